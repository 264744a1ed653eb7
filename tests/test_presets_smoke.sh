#!/usr/bin/env bash
# trainbench run end to end: every shipped preset at smoke scale, a refused
# full-scale configuration, SIGTERM, and --resume after the sweep is killed
# with kill -9.
set -u
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
ROOT=${SOURCE_ROOT:?set SOURCE_ROOT}
tmp=$(mktemp -d)
sweep_pid=
trap '[ -n "$sweep_pid" ] && kill -9 "$sweep_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fails=0
bad() { fails=$((fails + 1)); echo "FAIL: $*" >&2; }
# json FILE EXPR: prints the expression over the file's JSON (a tuple as words).
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); r=eval(sys.argv[2]); print(*r) if isinstance(r, tuple) else print(r)" "$@"; }
brief() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d.get('status'), [(c['id'], c['status']) for c in d['configs']])" "$1"; }
export TRAINBENCH_PRESETS=$ROOT/presets

# --- bad input: exit 2, nothing created ------------------------------------
out=$("$TB" run quickstart --set num_wrkers=1 --runs-dir "$tmp/r0" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "did you mean 'num_workers'" <<<"$out" || bad "--set unknown key: exit $rc: $out"
out=$("$TB" run quikstart --runs-dir "$tmp/r0" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "unknown preset 'quikstart'" <<<"$out" || bad "unknown preset: exit $rc: $out"
printf '[preset]\ntitle = t\nlab = l\nquestion = q\n[sweep]\nbatch_size = 32, 0\n[table]\ncolumns = train_s\n' >"$tmp/bad.ini"
out=$("$TB" run "$tmp/bad.ini" --runs-dir "$tmp/r0" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "bad.ini:6: \[sweep\] batch_size" <<<"$out" || bad "bad preset value: exit $rc: $out"
[ ! -e "$tmp/r0" ] && true || bad "a rejected run created $tmp/r0"

# --- every shipped preset at smoke scale ------------------------------------
start=$(date +%s)
for ini in "$ROOT"/presets/*.ini; do
  name=$(basename "$ini" .ini)
  "$TB" run "$name" --scale smoke --runs-dir "$tmp/smoke" >"$tmp/$name.out" 2>&1
  rc=$?
  dir=$(ls -d "$tmp/smoke/"*-"$name" 2>/dev/null | tail -1)
  if [ $rc -ne 0 ] || [ -z "$dir" ]; then
    bad "$name at smoke scale: exit $rc"; tail -5 "$tmp/$name.out" >&2; continue
  fi
  [ "$(json "$dir/summary.json" "d['status'], d['counts']['completed'] == d['counts']['total'], d['missing']")" \
    = "completed True []" ] || bad "$name summary: $(brief "$dir/summary.json")"
  grep -q "^| ---" "$dir/summary.md" || bad "$name summary.md has no table"
  grep -q "^| ---" "$tmp/$name.out" || bad "$name: run did not print its table"
  # Not a terminal: plain lines, no escape codes.
  ! grep -q $'\033' "$tmp/$name.out" || bad "$name: escape codes in non-terminal output"
done
echo "smoke runs of all presets: $(( $(date +%s) - start )) s"
# The Q3 preset keeps the full model: the lab's counts (Q2: 512 linear-layer inputs).
q3=$(ls -d "$tmp/smoke/"*-lab2-q3-params)
grep -q "| yes | 17 | 512 | 11,173,962 | 11,173,962 |" "$q3/summary.md" || bad "Q3 counts: $(cat "$q3/summary.md")"
grep -q "| no | 17 | 512 | 11,164,362 | 11,164,362 |" "$q3/summary.md" || bad "Q3 counts without BN"
# Smoke substitutions are recorded in the plan and the table's notes.
l5=$(ls -d "$tmp/smoke/"*-lab5-ddp-scaling)
json "$l5/plan.json" "d['configs'][-1]['substitutions']" | grep -q "gpus: 4 -> 2" || bad "lab5 plan lacks gpus 4 -> 2"
grep -q "gpus: 4 -> 2" "$l5/summary.md" || bad "lab5 summary.md lacks the substitution note"
# Issue 17: substitutes that make configurations alike run them once (one
# run directory each), the rows say what ran, derived figures come from it,
# and beyond-linear scaling is marked.
for name in imagenet-resnet50-scaling hw5-q1-batch-size hw5-q2-speedup hw5-q3-communication lab5-ddp-scaling; do
  d=$(ls -d "$tmp/smoke/"*-"$name")
  runs=$(json "$d/plan.json" "sum(1 for c in d['configs'] if 'same_as' not in c)")
  total=$(json "$d/plan.json" "len(d['configs'])")
  [ "$(find "$d" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq "$runs" ] && [ "$runs" -lt "$total" ] ||
    bad "$name: $runs distinct of $total configurations, run directories: $(ls "$d")"
  "$TB" export "$d" --format json >"$tmp/$name.json" || bad "$name: export json"
  python3 - "$tmp/$name.json" <<'PY' || bad "$name: unmarked beyond-linear figures: $(cat "$d/summary.md")"
import json, sys
t = json.load(open(sys.argv[1]))["tables"][0]
marked = {tuple(m) for m in t["marked"]}
for r, row in enumerate(t["rows"]):
    for c, col in enumerate(t["columns"]):
        v = row[c]
        if isinstance(v, float) and col["id"].startswith("efficiency") and v > 100:
            assert (r, c) in marked, (r, col, v)
PY
done
im=$(ls -d "$tmp/smoke/"*-imagenet-resnet50-scaling)
# LR 0.1 ran everywhere: no 1.6, 3.2 or 6.4 in a row; the batch is 128 per rank.
grep '^| ' "$im/summary.md" | grep -qE '\| (1\.6|3\.2|6\.4) \|' && bad "imagenet smoke shows nominal LRs: $(cat "$im/summary.md")"
grep -q '^| cpu[^|]* | 128 | 1 | 1 | 0.1 |' "$im/summary.md" || bad "imagenet smoke baseline row: $(cat "$im/summary.md")"
q4=$(ls -d "$tmp/smoke/"*-hw5-q4-large-batch)
grep '^| ' "$q4/summary.md" | grep -qF '| 3.2 |' && bad "hw5-q4 smoke shows the nominal LR 3.2: $(cat "$q4/summary.md")"
# Issue 17: Q4's growing batch ([smoke] 2:256) trained its second epoch at 256;
# C7 shows each epoch's loss and accuracy; the profiler preset's phases come
# from the trace each configuration wrote in its own run directory.
grep -qF '| 2:256 | 256 |' "$q4/summary.md" || bad "hw5-q4 batch-schedule row: $(cat "$q4/summary.md")"
c7=$(ls -d "$tmp/smoke/"*-lab2-c7-batch-norm)
"$TB" export "$c7" --format json >"$tmp/c7.json" || bad "lab2-c7: export json"
python3 - "$tmp/c7.json" <<'PY' || bad "lab2-c7 per-epoch columns: $(cat "$c7/summary.md")"
import json, sys
t = json.load(open(sys.argv[1]))["tables"][0]
ids = [c["id"] for c in t["columns"]]
for row in t["rows"]:
    for e in (1, 2):
        assert row[ids.index("train_loss_e%d" % e)] is not None, (e, row)
        assert row[ids.index("train_acc_e%d" % e)] is not None, (e, row)
    assert row[ids.index("train_acc_e3")] is None, row
PY
pr=$(ls -d "$tmp/smoke/"*-lab2-profiler)
ls "$pr"/*/trace.json >/dev/null 2>&1 || bad "lab2-profiler: no trace.json in its run directory: $(ls -R "$pr")"
"$TB" export "$pr" --format json >"$tmp/pr.json" || bad "lab2-profiler: export json"
python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['tables'][0]; ids=[c['id'] for c in t['columns']]
assert all(t['rows'][0][ids.index(k)] is not None for k in ('h2d_s', 'forward_s', 'backward_s', 'optimizer_s'))" \
  "$tmp/pr.json" || bad "lab2-profiler phase columns: $(cat "$pr/summary.md")"
# [smoke] batch_size = 32, 128 shortens the axis.
[ "$(json "$l5/plan.json" "sorted({c['params']['batch_size'] for c in d['configs']})")" = "['128', '32']" ] ||
  bad "lab5 smoke batch sizes: $(json "$l5/plan.json" "[c['params'] for c in d['configs']]")"
q2=$(ls -d "$tmp/smoke/"*-hw5-q2-speedup)
[ "$(json "$q2/plan.json" "len(d['configs'])")" -eq 6 ] || bad "hw5-q2 smoke should have 2 x 3 configurations"
# Every configuration of a scaling sweep has the same per-rank threads.
for d in "$l5" "$q2" "$im"; do
  [ "$(python3 -c 'import glob,json,sys; print(sorted({json.load(open(f))["threads"] for f in glob.glob(sys.argv[1] + "/*/config.json")}))' "$d")" = "[1]" ] ||
    bad "$d: threads differ: $(grep -h threads "$d"/*/config.json)"
done
"$TB" results --runs-dir "$tmp/smoke" >"$tmp/results.txt" || bad "results failed"
[ "$(grep -c ' sweep .* completed ' "$tmp/results.txt")" -eq "$(ls "$ROOT"/presets/*.ini | wc -l)" ] \
  || bad "results lists: $(cat "$tmp/results.txt")"

# --- full scale here: GPU configurations are refused, the sweep goes on ------
out=$("$TB" run lab5-ddp-scaling --set batch_size=32 --set device=cuda --set dataset=synthetic \
  --set limit_train=64 --set limit_test=32 --set epochs=1 --set model=resnet18-cifar:w4 --set gpus=1,2 \
  --runs-dir "$tmp/full" 2>&1); rc=$?
dir=$(ls -d "$tmp/full/"*-lab5-ddp-scaling)
[ $rc -eq 1 ] || bad "refused configurations should give exit 1, got $rc: $out"
[ "$(json "$dir/summary.json" "[c['status'] for c in d['configs']]")" = "['refused', 'refused']" ] \
  || bad "refused statuses: $(brief "$dir/summary.json")"
grep -q -- "--device cuda" "$dir/summary.md" || bad "refusal message missing from summary.md"

# --- a small full-scale preset whose configurations take a few seconds ------
cat >"$tmp/slow.ini" <<'INI'
[preset]
title = resume test
lab = test
question = does --resume skip finished configurations?
[run]
dataset = synthetic
model = resnet18-cifar:w8
limit_train = 4096
limit_test = 64
epochs = 2
batch_size = 64
[sweep]
num_workers = 0, 1, 2
[table]
columns = num_workers, train_s
INI
wait_first() { # waits until the first configuration of the sweep in $1 has completed
  for _ in $(seq 1 600); do
    s=$(ls "$1"/*/summary.json 2>/dev/null | head -1)
    [ -n "$s" ] && [ "$(json "$s" "d['configs'][0]['status']" 2>/dev/null)" = completed ] && return 0
    sleep 0.1
  done
  return 1
}

# SIGTERM: stops at the next batch, keeps what finished, says what is missing.
"$TB" run "$tmp/slow.ini" --runs-dir "$tmp/term" >"$tmp/term.out" 2>&1 &
sweep_pid=$!
wait_first "$tmp/term" || bad "SIGTERM test: the first configuration never completed"
kill -TERM $sweep_pid
wait $sweep_pid; rc=$?
sweep_pid=
dir=$(ls -d "$tmp/term/"*-slow)
[ $rc -eq 130 ] || bad "SIGTERM: exit $rc, want 130"
[ "$(json "$dir/summary.json" "d['status'], d['configs'][0]['status'], len(d['missing'])")" = "interrupted completed 2" ] \
  || bad "SIGTERM summary: $(brief "$dir/summary.json")"

# kill -9 after the first configuration, then --resume.
"$TB" run "$tmp/slow.ini" --runs-dir "$tmp/kill" >"$tmp/kill.out" 2>&1 &
sweep_pid=$!
wait_first "$tmp/kill" || bad "kill test: the first configuration never completed"
kill -9 $sweep_pid
wait $sweep_pid 2>/dev/null
sweep_pid=
dir=$(ls -d "$tmp/kill/"*-slow)
first=$(md5sum <"$dir/01-num_workers-0/result.json")
# The summary, never rewritten after the kill, still says what is missing.
[ "$(json "$dir/summary.json" "d['configs'][0]['status'], len(d['missing'])")" = "completed 2" ] \
  || bad "after kill -9: $(brief "$dir/summary.json")"
"$TB" results --runs-dir "$tmp/kill" | grep -q "interrupted" || bad "results should show the killed sweep as interrupted"
sleep 0.5 # the orphaned child stops on its parent-death signal
"$TB" run "$tmp/slow.ini" --runs-dir "$tmp/kill" --resume >"$tmp/resume.out" 2>&1; rc=$?
[ $rc -eq 0 ] || bad "--resume: exit $rc: $(cat "$tmp/resume.out")"
grep -q "01-num_workers-0: already completed, skipped" "$tmp/resume.out" || bad "--resume re-ran the first: $(cat "$tmp/resume.out")"
[ "$(grep -cE ': (running|resuming from its checkpoint)' "$tmp/resume.out")" -eq 2 ] || bad "--resume should run exactly 2: $(cat "$tmp/resume.out")"
[ "$(md5sum <"$dir/01-num_workers-0/result.json")" = "$first" ] || bad "--resume touched the finished result"
[ "$(json "$dir/summary.json" "d['status'], d['counts']['completed'], d['missing']")" = "completed 3 []" ] \
  || bad "summary after resume: $(brief "$dir/summary.json")"
[ "$(ls -d "$tmp/kill/"*-slow | wc -l)" -eq 1 ] || bad "--resume made a new sweep directory"
out=$("$TB" run "$tmp/slow.ini" --runs-dir "$tmp/kill" --resume --set epochs=1 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "differ from the sweep's plan.json" <<<"$out" || bad "resume with other settings: exit $rc: $out"
# A damaged summary.json (wrong types, too few configurations) is rebuilt from
# the configurations' own results, not trusted (issue 16: json-c aborted).
for damaged in '{"configs": 5}' '[1, 2]' '{"configs": [1]}' '{"configs": [{}, {}]}' 'null'; do
  printf '%s\n' "$damaged" >"$dir/summary.json"
  out=$("$TB" run "$tmp/slow.ini" --runs-dir "$tmp/kill" --resume 2>&1); rc=$?
  [ $rc -eq 0 ] && [ "$(grep -c 'already completed, skipped' <<<"$out")" -eq 3 ] && grep -q "rebuilding it" <<<"$out" \
    || bad "resume over summary.json $damaged: exit $rc: $out"
  [ "$(json "$dir/summary.json" "d['status'], d['counts']['completed'], d['missing']")" = "completed 3 []" ] \
    || bad "summary rebuilt from $damaged: $(brief "$dir/summary.json")"
done

[ $fails -eq 0 ] && echo "presets end to end: all checks passed"
exit $((fails > 0))
