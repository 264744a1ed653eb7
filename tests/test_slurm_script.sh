#!/usr/bin/env bash
# trainbench slurm against hostile input (issue 16): preset file names, --set
# values and an executable path with newlines, quotes, $(...), backticks and
# spaces must give a script that `bash -n` accepts, whose #SBATCH lines are
# all read by sbatch (none after a command) and hold only plain tokens, and
# whose command line hands the trainbench stub exactly the given words, with
# nothing run on the way.  Over-long command lines and sweeps that `run`
# refuses are refused here too, not cut or queued.
set -u
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
SRC=${SOURCE_ROOT:?set SOURCE_ROOT}
. "$SRC/tests/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# A copy of trainbench in a folder with a space and a quote: the script names
# it by /proc/self/exe; after generating, the copy becomes a stub that prints
# its arguments, one per NUL-terminated record.
bindir="$tmp/b i'n \$(touch PWNED)"
mkdir -p "$bindir"
cp "$TB" "$bindir/trainbench"
stub() {
  cat >"$bindir/trainbench" <<'EOF'
#!/bin/sh
printf '%s\0' "$@" >"$ARGV_OUT"
EOF
  chmod +x "$bindir/trainbench"
}

base=$SRC/presets/lab2-c6-optimizers.ini
# check_script FILE: syntax, directives before the first command, plain #SBATCH values.
check_script() {
  local f=$1
  check "bash -n '$f'" "bash -n rejects $f: $(bash -n "$f" 2>&1)"
  # sbatch reads #SBATCH lines only up to the first command line.
  local header
  header=$(awk '/^[^#]/ && NF {exit} {print}' "$f")
  for d in job-name nodes ntasks-per-node cpus-per-task output gpus-per-node; do
    check "grep -q '^#SBATCH --$d=' <<<\"\$header\"" "$f: #SBATCH --$d is missing or after a command"
  done
  check "! grep '^#SBATCH' '$f' | grep -q '[^-A-Za-z0-9._:/@+%,= #]'" "$f: an #SBATCH value outside the safe set"
}

names=($'nl\n#SBATCH --wrap=x\ntouch PWNED' "q'uote" '$(touch PWNED)' '`touch PWNED`' 'sp ace;touch PWNED'
  '-dash' '.hidden' '%j|&<>')
setval=$'data_dir=/d a\'b$(touch PWNED)`touch PWNED`"c"\n;touch PWNED'
i=0
for name in "${names[@]}"; do
  i=$((i + 1))
  mkdir -p "p$i"
  cp "$base" "p$i/$name.ini"
  cp "$TB" "$bindir/trainbench"
  expect 0 '' -- "$bindir/trainbench" slurm "p$i/$name.ini" --nodes 1 --gpus-per-node 2 --set "$setval" \
    --set epochs=2 --runs-dir runs/x -o "s$i.sbatch"
  [ -f "s$i.sbatch" ] || continue
  check_script "s$i.sbatch"
  # The preset's name appears only in its safe form outside quotes.
  check "grep -q '^#SBATCH --job-name=tb-[A-Za-z0-9._-]*\$' s$i.sbatch" "s$i: job name: $(grep job-name "s$i.sbatch")"
  check "grep -q '^#SBATCH --output=runs/x/slurm-%j-[A-Za-z0-9._-]*\\.out\$' s$i.sbatch" \
    "s$i: output: $(grep output= "s$i.sbatch")"
  # Run it: the stub must get exactly these words, and nothing else may run.
  stub
  mkdir -p "run$i" && (cd "run$i" && SLURM_JOB_NODELIST=n1 SLURM_JOB_ID=7 ARGV_OUT="$tmp/argv$i" \
    bash "$tmp/s$i.sbatch" >out 2>&1)
  want=$(printf '%s\0' run "$(realpath "p$i/$name.ini")" --runs-dir runs/x --set "$setval" --set epochs=2 | od -c)
  check "[ \"\$(od -c <argv$i 2>/dev/null)\" = \"\$want\" ]" \
    "s$i: the stub got other arguments: $(tr '\0' '|' <"argv$i" 2>&1)"
  check "[ -z \"\$(find '$tmp' -name 'PWNED*')\" ]" "s$i ($name): a hostile value ran a command"
  find "$tmp" -name 'PWNED*' -delete
done

# Values that cannot be quoted in an #SBATCH line are refused, not passed.
cp "$TB" "$bindir/trainbench"
for bad in $'runs\n#SBATCH --wrap=x' 'runs dir' 'r$(touch PWNED)' "r'q"; do
  expect 2 'only letters, digits' -- "$TB" slurm "$base" --nodes 1 --gpus-per-node 1 --runs-dir "$bad"
  expect 2 'only letters, digits' -- "$TB" slurm "$base" --nodes 1 --gpus-per-node 1 --partition "$bad"
done

# A command line too long for the script is refused with a message, never cut
# (it was cut at 4096 bytes and the script still exited 0).
long=optimizer=sgd
for k in $(seq 1 31); do long+="$(printf '%50s' ''), sgd"; done
sets=()
for k in $(seq 1 32); do sets+=(--set "$long"); done
expect 1 'longer than' -- "$TB" slurm "$base" --nodes 1 --gpus-per-node 1 "${sets[@]}" -o long.sbatch
check "[ ! -e long.sbatch ]" "a refused script was written"
# One such --set fits, and arrives whole.
expect 0 '' -- "$TB" slurm "$base" --nodes 1 --gpus-per-node 1 --set "$long" -o one.sbatch
check "grep -qF -- \"--set '$long'\" one.sbatch" "the long --set is not in the script whole"

# A --set longer than a preset holds is refused, not trained with a cut path
# (a 617-character --data-dir ran with 255 characters).
dir=/$(printf 'd%.0s' $(seq 1 300))/$(printf 'e%.0s' $(seq 1 316))
expect 2 'at most 255' -- "$TB" slurm "$base" --nodes 1 --gpus-per-node 1 --set "data_dir=$dir"
expect 2 'at most 255' -- "$TB" run "$base" --dry-run --set "data_dir=$dir"
short=/$(printf 'd%.0s' $(seq 1 250))
expect 0 "data-dir=$short( |\$)" -- "$TB" run "$base" --dry-run --set "data_dir=$short"

# A sweep that `run` refuses (here 32^8 configurations) is refused before
# anything is written or queued.
{
  printf '[preset]\ntitle = huge\nlab = lab2\nquestion = too big?\n[sweep]\n'
  for k in seed limit_train limit_test num_workers threads batch_size epochs; do
    printf '%s = %s\n' "$k" "$(seq -s , 1 32)"
  done
  printf 'momentum = %s\n' "$(seq -s , 0.01 0.01 0.32)"
  printf '[table]\ncolumns = seed\n'
} >huge.ini
expect 2 'more than 4096 configurations' -- "$TB" run huge.ini --dry-run
expect 2 'more than 4096 configurations' -- "$TB" slurm huge.ini --nodes 1 --gpus-per-node 1 -o huge.sbatch
check "[ ! -e huge.sbatch ]" "a script was written for a refused sweep"

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
