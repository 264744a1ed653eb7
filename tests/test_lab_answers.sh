#!/usr/bin/env bash
# Issue 17 end to end: lab2.py's own command lines (--print-epochs=false,
# --run-profiler=true --trace-file-name=NAME, --run-code-3=true
# --max-num-of-workers-for-code-3=N) and --batch-schedule (HW5 Q4's growing
# batch): the batch per epoch in result.json, steps that match it, and a
# resume at a later epoch that trains at that epoch's batch.  Tiny runs:
# narrow model, a few dozen synthetic images.
set -u
. "$(dirname "$0")/lib.sh"
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
ROOT=${SOURCE_ROOT:?set SOURCE_ROOT}
export TRAINBENCH_PRESETS=$ROOT/presets
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
# One compute thread: with two, OpenMP's spinning costs more than these runs.
TINY=(--dataset synthetic --model resnet18-cifar:w4 --limit-train 24 --limit-test 8 --batch-size 8 --epochs 1
  --num-workers 0 --threads 1)

# --- --help says which lab spellings exist -----------------------------------
expect 0 "lab spellings.*--run-profiler.*--run-code-3.*--print-epochs=false" -- "$TB" train --help
expect 0 "--trace-file-name=NAME, which writes NAME.json" -- "$TB" train --help

# --- --print-epochs: false prints no epoch lines, true does -------------------
expect 0 "Avg epoch time" -- "$TB" train "${TINY[@]}" --run-dir "$tmp/q" --print-epochs=false
grep -qE '^ +1\*? |^epoch ' <<<"$last_out" && bad "--print-epochs=false printed an epoch line: $last_out"

# --- --run-profiler / --trace-file-name: the lab's profiler command ----------
# --trace-file-name=NAME writes NAME.json where the command runs, as lab2.py did.
(cd "$tmp" && "$TB" train "${TINY[@]}" --run-dir "$tmp/p1" --quiet --run-profiler=true --trace-file-name=trace) \
  >"$tmp/p1.out" 2>&1 || bad "lab profiler command failed: $(cat "$tmp/p1.out")"
python3 "$ROOT/tests/check_trace.py" "$tmp/trace.json" "$tmp/p1/result.json" >"$tmp/ct.out" 2>&1 ||
  bad "--trace-file-name=trace: trace.json: $(cat "$tmp/ct.out")"
[ ! -e "$tmp/p1/trace.json" ] || bad "--trace-file-name also wrote RUN_DIR/trace.json"
# --run-profiler alone (= --trace): RUN_DIR/trace.json, and the epochs' phases.
expect 0 "Profile written to $tmp/p2/trace.json" -- "$TB" train "${TINY[@]}" --run-dir "$tmp/p2" --run-profiler \
  --print-epochs=true
grep -qE '^ +1\*? ' <<<"$last_out" || bad "--print-epochs=true printed no epoch line: $last_out"
[ "$(json "$tmp/p2/result.json" "sorted(d['epochs'][0]['phases'])")" = \
  "['allreduce_s', 'backward_s', 'data_s', 'forward_s', 'h2d_s', 'optimizer_s']" ] ||
  bad "--run-profiler: phases $(json "$tmp/p2/result.json" "d['epochs'][0].get('phases')")"
expect 2 "--profile-layers needs --profile FILE or --trace" -- "$TB" train "${TINY[@]}" --run-dir "$tmp/p3" \
  --profile-layers

# --- --run-code-3: the C3 worker sweep, as the lab2-c3-workers preset --------
expect 0 "lab2-c3-workers --set num_workers=0,4" -- "$TB" train --device=cpu --dataset synthetic \
  --model resnet18-cifar:w4 --limit-train 16 --limit-test 8 --batch-size 8 --epochs 1 --num-of-workers=2 --threads 1 \
  --runs-dir "$tmp/c3" --run-code-3=true --max-num-of-workers-for-code-3=6 --print-epochs=false
sweep=$(ls -d "$tmp/c3/"*-lab2-c3-workers 2>/dev/null | head -1)
if [ -z "$sweep" ]; then
  bad "--run-code-3 made no lab2-c3-workers sweep under $tmp/c3: $(ls -R "$tmp/c3" 2>&1)"
else
  [ "$(json "$sweep/plan.json" "[c['params']['num_workers'] for c in d['configs']]")" = "['0', '4']" ] ||
    bad "--run-code-3 workers: $(json "$sweep/plan.json" "[c['params'] for c in d['configs']]")"
  [ "$(json "$sweep/summary.json" "d['status'], d['counts']['completed']")" = "('completed', 2)" ] ||
    bad "--run-code-3 sweep: $(cat "$sweep/summary.json")"
  # The command's options reach every configuration; the lab's workers flag does not.
  [ "$(json "$sweep/02-num_workers-4/config.json" "d['device'], d['limit_train'], d['num_workers'], d['epochs']")" \
    = "('cpu', 16, 4, 1)" ] || bad "--run-code-3 options: $(cat "$sweep/02-num_workers-4/config.json")"
  grep -q "^| ---" "$sweep/summary.md" || bad "--run-code-3: no table"
fi
expect 2 "--run-dir with --worker-sweep" -- "$TB" train "${TINY[@]}" --run-dir "$tmp/x" --run-code-3
[ ! -e "$tmp/x" ] || bad "a refused --run-code-3 created $tmp/x"

# --- --batch-schedule: 8, then 16 from epoch 2, 32 from epoch 3 --------------
SCHED=(--dataset synthetic --model resnet18-cifar:w4 --limit-train 48 --limit-test 8 --batch-size 8
  --batch-schedule 2:16,3:32 --num-workers 1 --threads 1 --quiet)
"$TB" train "${SCHED[@]}" --epochs 3 --run-dir "$tmp/b3" >"$tmp/b3.out" 2>&1 || bad "schedule run: $(cat "$tmp/b3.out")"
[ "$(json "$tmp/b3/result.json" "[(e['epoch'], e['batch_size'], e['images']) for e in d['epochs']]")" = \
  "[(1, 8, 48), (2, 16, 48), (3, 32, 48)]" ] || bad "batch per epoch: $(cat "$tmp/b3/result.json")"
# Steps per epoch as the batch says: ceil(48 / B) = 6, 3, 2 (events), 11 optimizer steps in all (checkpoint).
steps() {
  python3 - "$1" <<'PY'
import json, struct, sys
d = sys.argv[1]
ev = [json.loads(l) for l in open(d + "/events.jsonl")]
starts = [(e["epoch"], e["batch_size"], e["batches"]) for e in ev if e["event"] == "epoch_start"]
last = {}
for e in ev:
    if e["event"] == "progress":
        last[e["epoch"]] = e["batch"]
with open(d + "/checkpoint.safetensors", "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    meta = json.loads(f.read(n))["__metadata__"]
print(starts, sorted(last.items()), json.loads(meta["trainbench.checkpoint"])["optimizer_step"])
PY
}
[ "$(steps "$tmp/b3")" = "[(1, 8, 6), (2, 16, 3), (3, 32, 2)] [(1, 6), (2, 3), (3, 2)] 11" ] ||
  bad "steps per epoch: $(steps "$tmp/b3")"
# Resumed at epoch 3, the run trains at epoch 3's batch and ends where the straight run did.
"$TB" train "${SCHED[@]}" --epochs 2 --run-dir "$tmp/b2" >"$tmp/b2.out" 2>&1 || bad "2 epochs: $(cat "$tmp/b2.out")"
"$TB" train --resume "$tmp/b2" --epochs 3 --quiet >"$tmp/b2r.out" 2>&1 || bad "resume: $(cat "$tmp/b2r.out")"
[ "$(steps "$tmp/b2")" = "$(steps "$tmp/b3")" ] || bad "resumed steps: $(steps "$tmp/b2") vs $(steps "$tmp/b3")"
[ "$(json "$tmp/b2/result.json" "[(e['batch_size'], e['train_loss'], e['test_loss']) for e in d['epochs']]")" = \
  "$(json "$tmp/b3/result.json" "[(e['batch_size'], e['train_loss'], e['test_loss']) for e in d['epochs']]")" ] ||
  bad "resumed run differs from the straight one"
# The schedule shapes the experiment: a resume may not change it.
expect 2 "batch.schedule" -- "$TB" train --resume "$tmp/b2" --epochs 4 --batch-schedule 2:16,3:24
expect 2 "epoch 1 trains at --batch-size" -- "$TB" train "${TINY[@]}" --batch-schedule 1:16 --run-dir "$tmp/bad"
[ ! -e "$tmp/bad" ] || bad "a refused --batch-schedule created $tmp/bad"

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
