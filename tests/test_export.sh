#!/usr/bin/env bash
# trainbench export against golden files: fixed sweep directories under
# tests/data/export (the labs' ImageNet table, Lab 2 C6, and HW5 Q2 and Q3
# as pivot tables) must export to exactly the committed Markdown and CSV,
# byte for byte.
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

# Pivot tables in the labs' shape (make_hw5.py built these sweeps from the
# multi-GPU lab's own numbers): HW5 Q2 and Q3.
golden expected-hw5-q2.md -- hw5-q2
golden expected-hw5-q3.md -- hw5-q3
for line in '| Batch Size per GPU | 1-GPU Time(s) | 2-GPU Speedup | 4-GPU Speedup |' \
  '| 32 | 15.89 | 0.57 | 0.35 |' '| 128 | 9.94 | 0.99 | 0.86 |' '| 512 | 9.82 | 0.98 | 0.90 |' \
  '| 1024 | 9.87 | 0.96 | 0.90 |'; do
  grep -qF -- "$line" expected-hw5-q2.md || bad "expected-hw5-q2.md lacks the lab's row: $line"
done
# Q3: the lab's compute and communication times; bandwidth from the
# 4 x params gradient bytes and ceil(50000 / (batch x ranks)) all-reduces.
for line in '| 2 | 15.50 | 11.43 | 3.06 | 8.57 | 0.400 |' '| 4 | 15.40 | 23.80 | 1.10 | 8.50 | 0.980 |'; do
  grep -qF -- "$line" expected-hw5-q3.md || bad "expected-hw5-q3.md lacks: $line"
done
# A run that records the all-reduce's own time (allreduce_s: overlapped with
# backward, comm_s is only the exposed part) gets its bandwidth from it:
# half the time, twice the 3.06 GB/s.
cp -r hw5-q3 "$tmp/q3"
python3 - "$tmp/q3/01-gpus-2-batch_size-32/result.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for e in d["epochs"]:
    e["allreduce_s"] = e["comm_s"] / 2
json.dump(d, open(sys.argv[1], "w"))
PY
out=$("$TB" export "$tmp/q3" 2>&1) || bad "export of a sweep with allreduce_s failed: $out"
grep -qF '| 2 | 15.50 | 11.43 | 6.12 |' <<<"$out" || bad "bandwidth from allreduce_s: $out"
# A configuration that did not complete is n/a in its cell, and a footnote.
cp -r hw5-q2 "$tmp/q2"
python3 - "$tmp/q2/summary.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["configs"][1].update(status="failed", error="out of memory")
json.dump(d, open(sys.argv[1], "w"))
PY
out=$("$TB" export "$tmp/q2" 2>&1) || bad "export of a partial pivot sweep failed: $out"
grep -qF '| 32 | 15.89 | n/a | 0.35 |' <<<"$out" && grep -qF 'Configuration 02-batch_size-32-gpus-2 (batch_size=32 gpus=2): failed: out of memory' <<<"$out" ||
  bad "partial pivot sweep: $out"
out=$("$TB" export hw5-q3 --format csv) || bad "pivot CSV export failed"
head -1 <<<"$out" | grep -qF 'Configuration (GPUs),Batch 32 Compute(s),Batch 32 Comm(s),Batch 32 Bandwidth (GB/s),Batch 128' ||
  bad "pivot CSV header: $out"

# trainbench results --json lists these sweeps for scripts.
"$TB" results --runs-dir . --json >"$tmp/results.json" || bad "results --json failed"
python3 - "$tmp/results.json" <<'PY' || bad "results --json content: $(cat "$tmp/results.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "trainbench.results/1", d
e = {x["path"]: x for x in d["entries"]}
q2 = e["./hw5-q2"]
assert q2["kind"] == "sweep" and q2["preset"] == "hw5-q2-speedup" and q2["counts"]["total"] == 12, q2
assert e["./imagenet"]["scale"] == "full", e
PY

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

# Hostile text in plan.json, summary.json and result.json (issue 16): escape
# sequences (CSI colour, OSC 8 link, OSC title with BEL, an 8-bit CSI as
# U+009B, a lone 0x9b byte, DEL) must not reach the terminal from export
# (md, csv) or results; they are shown escaped.  '|' does not split a cell.
mkdir -p "$tmp/hostile"
cp -r lab2-c6 "$tmp/hostile/sw"
esc=$(mktemp -d "$tmp/hostile/run-XXXX")
mv "$esc" "$tmp/hostile/run-$(printf '\033[2J')x"
cp lab2-c6/01-optimizer-sgd/result.json "$tmp/hostile/run-"*x/
python3 - "$tmp/hostile" <<'PY'
import glob, json, os, sys
bad = "\x1b[31mRED\x1b]8;;http://evil/\x07link\x1b]8;;\x07\x1b]0;title\x07\u009b2J\x7f|pipe"
def edit(path, f):
    d = json.load(open(path)); f(d); json.dump(d, open(path, "w"))
def plan(d):
    d["title"] = d["question"] = d["preset"] = bad
    for c in d["configs"]:
        c["label"] = bad
        c["params"] = {k: bad for k in c["params"]}
edit(sys.argv[1] + "/sw/plan.json", plan)
def summ(d):
    d["status"] = bad
    d["configs"][1].update(status="failed", error=bad)
edit(sys.argv[1] + "/sw/summary.json", summ)
def res(d):
    d["status"] = bad
    d["error"] = bad
    d["config"]["optimizer"] = d["config"]["model"] = bad
for p in glob.glob(sys.argv[1] + "/*/*/result.json") + glob.glob(sys.argv[1] + "/run-*/result.json"):
    edit(p, res)
# A raw 0x9b byte (CSI in 8-bit terminals) is not valid JSON text for json-c's
# writer, so put it in by hand.
p = glob.glob(sys.argv[1] + "/run-*/result.json")[0]
raw = open(p, "rb").read().replace(b'"status": "', b'"status": "\x9b31m', 1)
open(p, "wb").write(raw)
PY
# Control characters other than newline, C1 controls in UTF-8, and bytes 0x80-0x9f outside UTF-8.
controls() { LC_ALL=C grep -qaP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|(?<![\xc0-\xff])[\x80-\x9f]' "$1"; }
for args in "sw" "sw --format csv" "run-*x" "run-*x --format csv" "sw run-*x"; do
  (cd "$tmp/hostile" && eval "\"\$TB\" export $args") >"$tmp/h.out" 2>"$tmp/h.err" ||
    bad "export $args failed: $(cat "$tmp/h.err")"
  controls "$tmp/h.out" && bad "export $args printed control characters: $(od -c "$tmp/h.out" | head -20)"
  grep -qF '\x1b[31mRED' "$tmp/h.out" || bad "export $args: the escaped text is not shown: $(head -c 600 "$tmp/h.out")"
done
(cd "$tmp/hostile" && "$TB" export sw) | grep '^|' | grep -F 'RED' | grep -qvF '\|pipe' &&
  bad "export md: a '|' in text is not escaped"
"$TB" results --runs-dir "$tmp/hostile" >"$tmp/h.out" 2>&1 || bad "results on hostile files failed: $(cat "$tmp/h.out")"
controls "$tmp/h.out" && bad "results printed control characters: $(od -c "$tmp/h.out" | head -20)"
grep -qF '\x1b[2Jx' "$tmp/h.out" && grep -qF '\x1b[31mRED' "$tmp/h.out" ||
  bad "results: escaped text not shown: $(cat "$tmp/h.out")"
# JSON output is for scripts and terminals alike: valid JSON (the lone 0x9b
# byte is not UTF-8) with DEL and C1 written as \u escapes, never raw.
for args in "export sw --format json" "export run-*x --format json" "results --runs-dir . --json"; do
  (cd "$tmp/hostile" && eval "\"\$TB\" $args") >"$tmp/h.out" 2>"$tmp/h.err" || bad "$args failed: $(cat "$tmp/h.err")"
  controls "$tmp/h.out" && bad "$args printed control characters: $(od -c "$tmp/h.out" | grep -m3 '377\|233\|302')"
  python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$tmp/h.out" ||
    bad "$args: not valid UTF-8 JSON"
  case $args in export*) grep -qF '\u009b2J' "$tmp/h.out" || bad "$args: U+009B is not shown as \\u009b" ;; esac
done

# A plan.json id that climbs out of the sweep folder is never joined to a path
# (issue 16): the id "../c6/01-optimizer-sgd" names the real folder, so a
# reader that followed it would show that configuration's figures.
cp -r "$DATA/lab2-c6" "$tmp/c6"
python3 - "$tmp/c6/plan.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["configs"][0]["id"] = "../c6/" + p["configs"][0]["id"]
json.dump(p, open(sys.argv[1], "w"))
PY
"$TB" export "$DATA/lab2-c6" >"$tmp/c6-good.md" 2>&1 || bad "export of the intact lab2-c6 failed"
if "$TB" export "$tmp/c6" >"$tmp/c6-climb.md" 2>&1; then
  sgd_good=$(grep -m1 '| SGD \|sgd' "$tmp/c6-good.md")
  sgd_climb=$(grep -m1 '| SGD \|sgd' "$tmp/c6-climb.md")
  [ -n "$sgd_good" ] && [ "$sgd_good" != "$sgd_climb" ] ||
    bad "an id climbing out of the sweep was followed: $sgd_climb"
else
  bad "export with a climbing id failed instead of skipping it: $(cat "$tmp/c6-climb.md")"
fi

# Issue 17: a sweep run with --set is not the preset's; its overrides are in
# summary.json, summary.md and every export format.  `run` ends by printing
# the table, as export --format md does, unless --quiet.  A one-configuration
# sweep of 32 synthetic images: about a second.
cat >"$tmp/tiny.ini" <<'INI'
[preset]
title = tiny
lab = test
question = are the overrides part of the result?
[run]
dataset = synthetic
model = resnet18-cifar:w4
limit_train = 32
limit_test = 16
epochs = 1
batch_size = 16
[sweep]
lr = 0.1
[table]
columns = lr, batch_size, train_s
INI
# jq FILE EXPR: prints the Python expression over the file's JSON (d).
jq() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
"$TB" run "$tmp/tiny.ini" --set batch_size=8 --set num_workers=0 --runs-dir "$tmp/ov" >"$tmp/ov.out" 2>&1 ||
  bad "run with --set failed: $(cat "$tmp/ov.out")"
ov=$(ls -d "$tmp/ov/"*-tiny)
want='Overrides (--set): `batch_size=8`, `num_workers=0`.'
grep -qF -- "$want" "$ov/summary.md" || bad "summary.md lacks the overrides: $(cat "$ov/summary.md")"
grep -qF -- "$want" "$tmp/ov.out" && grep -q '^| 0.1 | 8 | ' "$tmp/ov.out" ||
  bad "run did not print the table: $(cat "$tmp/ov.out")"
"$TB" export "$ov" | grep -qF -- "$want" || bad "export md lacks the overrides"
csv=$("$TB" export "$ov" --format csv)
head -1 <<<"$csv" | grep -q ',Overrides (--set)$' && sed -n 2p <<<"$csv" | grep -q '^0.1,8,.*,batch_size=8; num_workers=0$' ||
  bad "export csv lacks the overrides: $csv"
"$TB" export "$ov" --format json >"$tmp/ov.json" || bad "export json failed"
[ "$(jq "$tmp/ov.json" "d['tables'][0]['overrides']")" = "['batch_size=8', 'num_workers=0']" ] ||
  bad "export json overrides: $(cat "$tmp/ov.json")"
[ "$(jq "$ov/summary.json" "d['sets']")" = "['batch_size=8', 'num_workers=0']" ] ||
  bad "summary.json lacks the overrides: $(cat "$ov/summary.json")"
# No --set: no overrides line, and an empty list for scripts.
"$TB" run "$tmp/tiny.ini" --quiet --runs-dir "$tmp/quiet" >"$tmp/quiet.out" 2>&1 || bad "run --quiet failed: $(cat "$tmp/quiet.out")"
grep -q '^|' "$tmp/quiet.out" || grep -q 'running' "$tmp/quiet.out" && bad "run --quiet printed: $(cat "$tmp/quiet.out")"
q=$(ls -d "$tmp/quiet/"*-tiny)
grep -q '^| 0.1 | 16 | ' "$q/summary.md" && ! grep -q 'Overrides' "$q/summary.md" || bad "quiet summary.md: $(cat "$q/summary.md")"
[ "$(jq "$q/summary.json" "d['sets']")" = "[]" ] || bad "summary.json sets without --set: $(cat "$q/summary.json")"

[ $fails -eq 0 ] && echo "export: all checks passed"
exit $((fails > 0))
