# Shared helpers of the shell tests (sourced): a check counter and the
# assertions every script uses.
fails=0
checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

# expect STATUS PATTERN -- command...: the exit status and an output pattern
# (stdout and stderr together; the output is kept in $last_out).
expect() {
  local want=$1 pattern=$2
  shift 3
  local out status
  out=$("$@" 2>&1)
  status=$?
  last_out=$out
  if [ "$status" -ne "$want" ]; then
    bad "$* -> exit $status, want $want; output: $out"
  elif ! grep -qE -- "$pattern" <<<"$out"; then
    bad "$* -> output lacks /$pattern/: $out"
  else
    ok
  fi
}
