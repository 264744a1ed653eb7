#!/usr/bin/env bash
# trainbench export against golden files: fixed sweep directories under
# tests/data/export (the labs' ImageNet table and Lab 2 C6) must export to
# exactly the committed Markdown and CSV, byte for byte.
set -u
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
DATA=${SOURCE_ROOT:?set SOURCE_ROOT}/tests/data/export
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
bad() { fails=$((fails + 1)); echo "FAIL: $*" >&2; }

# The directories' names are part of the output (merged tables): run from DATA.
cd "$DATA" || exit 1
golden() { # golden EXPECTED-FILE -- export arguments...
  local want=$1
  shift 2
  if ! "$TB" export "$@" >"$tmp/out" 2>"$tmp/err"; then
    bad "export $* failed: $(cat "$tmp/err")"
  elif ! cmp -s "$tmp/out" "$want"; then
    bad "export $* differs from $want:"
    diff -u "$want" "$tmp/out" >&2
  fi
}
golden expected.md -- imagenet lab2-c6
golden expected-merged.md -- lab2-c6 lab2-c6
golden expected.csv -- imagenet --format csv

# The lab's own efficiency column, straight from the Markdown.
for v in 98.62% 97.61% 94.78% 90.93% 85.05% 76.76% 36:01:26; do
  grep -q -- "| $v |" expected.md || bad "expected.md lacks the lab's $v"
done

# -o writes the same bytes to a file; JSON parses and has the rows.
"$TB" export imagenet lab2-c6 -o "$tmp/t.md" || bad "export -o failed"
cmp -s "$tmp/t.md" expected.md || bad "export -o differs from stdout"
"$TB" export imagenet --format json >"$tmp/t.json" || bad "export --format json failed"
python3 - "$tmp/t.json" <<'PY' || bad "JSON export content"
import json, sys
d = json.load(open(sys.argv[1]))
t = d["tables"][0]
assert d["schema"] == "trainbench.tables/1"
ids = [c["id"] for c in t["columns"]]
row = t["rows"][1]
assert abs(row[ids.index("efficiency")] - 98.6175) < 1e-3, row
assert t["rows"][7][ids.index("wall_s")] is None, t["rows"][7]
PY

# Bad input: exit 2 and a message naming the problem.
out=$("$TB" export "$tmp/nowhere" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "is not a directory" <<<"$out" || bad "missing dir: exit $rc: $out"
out=$("$TB" export imagenet --format xml 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "expected md, csv or json" <<<"$out" || bad "bad format: exit $rc: $out"
mkdir "$tmp/empty"
out=$("$TB" export "$tmp/empty" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "neither a sweep" <<<"$out" || bad "empty dir: exit $rc: $out"

[ $fails -eq 0 ] && echo "export: all checks passed"
exit $((fails > 0))
