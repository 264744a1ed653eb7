#!/usr/bin/env bash
# Data-parallel training over MPI on CPU ranks: 2 ranks reach the weights and
# metrics of 1 rank with the same global batch, with one gradient bucket or
# several, all-reduced during backward (--overlap on) or after it; ranks with
# different options refuse to start; a killed or hung rank ends the job
# within a bounded time with a message naming it; a generated Slurm script
# runs on a real single-node Slurm (when slurmctld/slurmd are installed and
# we are root).
set -u
. "$(dirname "$0")/lib.sh"
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
SRC=${SOURCE_ROOT:-$(dirname "$0")/..}
command -v mpirun >/dev/null || { echo "skipped: mpirun not installed (openmpi-bin)"; exit 77; }
"$TB" train --help | grep -q -- "--gpus" || { echo "skipped: no --gpus"; exit 77; }
tmp=$(mktemp -d)
cleanup() {
  [ -n "${SLURM_DIR:-}" ] && slurm_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
root_flag=""
[ "$(id -u)" -eq 0 ] && root_flag="--allow-run-as-root"

common=(--dataset synthetic --model resnet18-cifar:w4 --limit-train 192 --limit-test 64 --epochs 2
        --no-batch-norm --no-augment --seed 5 --lr 0.05 --quiet --save-weights --threads 1)

# --- 2 ranks x 16 == 1 rank x 32 (no batch norm: BN statistics are per rank) --
"$TB" train "${common[@]}" --batch-size 32 --run-dir "$tmp/one" || bad "1-rank run failed"
# The default (one 25 MB bucket here), then several small buckets (0.03 MB:
# about 8 for this model) reduced during backward and after it.
"$TB" train "${common[@]}" --batch-size 16 --gpus 2 --run-dir "$tmp/two" >"$tmp/two.log" 2>&1 \
  || bad "2-rank run failed: $(cat "$tmp/two.log")"
for ov in on off; do
  "$TB" train "${common[@]}" --batch-size 16 --gpus 2 --bucket-mb 0.03 --overlap $ov --run-dir "$tmp/two-$ov" \
    >"$tmp/two-$ov.log" 2>&1 || bad "2-rank run with --overlap $ov failed: $(cat "$tmp/two-$ov.log")"
done
/usr/bin/python3 - "$tmp/one" "$tmp/two" "$tmp/two-on" "$tmp/two-off" <<'PY' && ok || bad "2 ranks differ from 1 rank"
import json, struct, sys
from array import array
def weights(d):
    b = open(d + "/weights.safetensors", "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = array("f", b[8 + n + s:8 + n + e])
    return out
a = weights(sys.argv[1])
r1 = json.load(open(sys.argv[1] + "/result.json"))
assert r1["ranks"] == 1
for d in sys.argv[2:]:
    b = weights(d)
    assert a.keys() == b.keys() and len(a) > 10
    worst = max(max(abs(x - y) for x, y in zip(a[k], b[k])) / max(max(abs(x) for x in a[k]), 1e-12) for k in a)
    print(f"worst relative weight difference 1 rank vs {d.rsplit('/', 1)[1]}: {worst:.2e}")
    assert worst < 1e-5, (d, worst)
    r2 = json.load(open(d + "/result.json"))
    assert r2["ranks"] == 2
    for e1, e2 in zip(r1["epochs"], r2["epochs"]):
        assert abs(e1["train_loss"] - e2["train_loss"]) <= 1e-5 * abs(e1["train_loss"]), (e1["train_loss"], e2["train_loss"])
        assert e1["train_acc"] == e2["train_acc"] and e1["test_acc"] == e2["test_acc"]
        assert e1["images"] == e2["images"] == 192 and e1["class_acc"] == e2["class_acc"]
        assert e2["comm_s"] > 0 and 0 < e2["compute_s"] < e2["train_s"]
        # 192 images at a global batch of 32: 6 all-reduces of 4 x params bytes
        assert e2["allreduces"] == 6 and e2["allreduce_bytes"] == 4 * r2["model"]["params"], e2
        assert e2["allreduce_s"] > 0 and e2["bandwidth_gbps"] > 0, e2
    buckets = r2["epochs"][0]["buckets"]
    assert buckets == (1 if d.endswith("/two") else 8), (d, buckets)
# Bucketing and overlap only change when the sums happen, not what they are.
on, off = weights(sys.argv[3]), weights(sys.argv[4])
assert all(on[k] == off[k] for k in on), "overlap on and off reached different weights"
PY
[ "$(ls "$tmp/two" | sort | tr '\n' ' ')" = "checkpoint.json checkpoint.safetensors config.json events.jsonl result.json weights.safetensors " ] \
  && ok || bad "only rank 0 writes the run directory: $(ls "$tmp/two")"

# --- with batch norm: runs, and every rank ends with rank 0's weights ---------
"$TB" train --dataset synthetic --model resnet18-cifar:w4 --limit-train 128 --limit-test 32 --epochs 1 \
  --batch-size 16 --gpus 2 --threads 1 --quiet --run-dir "$tmp/bn" && ok || bad "2-rank BN run failed"

# --- Ctrl-C of a 2-rank job mid-epoch, then --resume: the same weights ---------
# Both ranks stop at the same step (they agree on it), the checkpoint holds
# the partial epoch's sums over both ranks, and the resumed ranks receive the
# weights and optimizer state from rank 0.
dp=(--dataset synthetic --model resnet18-cifar:w4 --limit-train 8192 --limit-test 64 --epochs 2 --batch-size 16
    --seed 5 --lr 0.05 --save-weights --threads 1 --gpus 2)
"$TB" train "${dp[@]}" --quiet --run-dir "$tmp/dpfull" >"$tmp/dpfull.log" 2>&1 || bad "2-rank reference: $(cat "$tmp/dpfull.log")"
setsid "$TB" train "${dp[@]}" --run-dir "$tmp/dpint" >"$tmp/dpint.log" 2>&1 &
dppid=$!
for _ in $(seq 600); do grep -q '"event":"epoch_start".*"epoch":2,' "$tmp/dpint/events.jsonl" 2>/dev/null && break; sleep 0.1; done
kill -INT -- "-$dppid" # the whole process group, as Ctrl-C does; mpirun passes it on to the ranks (each in a process group of its own) within about a second
wait $dppid
rc=$?
check "[ $rc -eq 130 ] && grep -q '\"reason\":\"interrupted\"' '$tmp/dpint/events.jsonl'" \
  "2-rank Ctrl-C: exit $rc, no interrupt checkpoint: $(tail -3 "$tmp/dpint.log")"
# Without --quiet: rank 0 prints, the others are quiet, and they still agree.
"$TB" train --resume "$tmp/dpint" >"$tmp/dpres.log" 2>&1 || bad "2-rank resume: $(tail -5 "$tmp/dpres.log")"
check "grep -q 'Resuming .* at epoch 2, batch [1-9]' '$tmp/dpres.log'" "2-rank resume not mid-epoch: $(head -5 "$tmp/dpres.log")"
check "cmp -s '$tmp/dpfull/weights.safetensors' '$tmp/dpint/weights.safetensors'" \
  "2 ranks interrupted and resumed: weights differ from the uninterrupted 2-rank run"

# --- ranks with different options refuse to start ----------------------------
out=$(mpirun -np 1 $root_flag --oversubscribe "$TB" train "${common[@]}" --batch-size 16 --run-dir "$tmp/d" : \
      -np 1 $root_flag --oversubscribe "$TB" train "${common[@]}" --batch-size 16 --lr 0.2 --run-dir "$tmp/d" 2>&1)
status=$?
[ $status -ne 0 ] && grep -q "different configuration or trainbench build than rank 0" <<<"$out" \
  && ok || bad "mismatched ranks: status $status, output: $out"
[ ! -f "$tmp/d/result.json" ] || [ "$(python3 -c "import json; print(json.load(open('$tmp/d/result.json'))['status'])")" != completed ] \
  && ok || bad "mismatched ranks produced a completed result"

# --- a killed rank ends the job, a hung one too, within the time bound -------
# (several buckets, overlapped: the waits for them are watched too)
long=(--dataset synthetic --model resnet18-cifar:w4 --limit-train 4000 --limit-test 32 --epochs 50
      --batch-size 16 --gpus 2 --threads 1 --quiet --rank-timeout 5 --overlap on --bucket-mb 0.03)
rank_pid() { # the pid of rank $1 of the run writing to $2
  for p in $(pgrep -f -- "--run-dir=$2"); do
    tr '\0' '\n' </proc/"$p"/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && echo "$p"
  done | head -1
}
wait_epoch() {
  for _ in $(seq 300); do grep -q '"event":"epoch_end"' "$1/events.jsonl" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
for how in KILL STOP; do
  run="$tmp/fault-$how"
  "$TB" train "${long[@]}" --run-dir "$run" >"$tmp/$how.log" 2>&1 &
  launcher=$!
  wait_epoch "$run" || bad "$how: no epoch finished"
  victim=$(rank_pid 1 "$run")
  start=$(date +%s)
  kill -"$how" "$victim"
  wait $launcher
  status=$?
  elapsed=$(($(date +%s) - start))
  [ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null
  [ $status -ne 0 ] && ok || bad "$how: job exit status $status"
  [ $elapsed -le 30 ] && ok || bad "$how: the job took $elapsed s to end"
  if [ "$how" = STOP ]; then
    grep -q "rank 0 on .*waited 5 s in .* for the other ranks" "$tmp/$how.log" && ok \
      || bad "hung rank: no watchdog message: $(cat "$tmp/$how.log")"
  else
    grep -qiE "rank 1|process rank 1|exited on signal" "$tmp/$how.log" && ok \
      || bad "killed rank: no message naming it: $(cat "$tmp/$how.log")"
  fi
  [ "$(python3 -c "import json; print(json.load(open('$run/result.json'))['epochs'][0]['epoch'])")" = 1 ] \
    && ok || bad "$how: finished epochs lost"
done

# --- a real single-node Slurm: the generated script runs a smoke sweep --------
. "$SRC/tests/slurm_harness.sh"
slurm_start "$tmp/slurm" >"$tmp/slurm.log" 2>&1
slurm_rc=$?
if [ $slurm_rc -eq 0 ]; then
  runs="$tmp/slurm-runs"
  script=$("$TB" slurm quickstart --trainbench "$TB" --nodes 1 --gpus-per-node 2 --cpus-per-task 1 --scale smoke \
           --set gpus=2 --runs-dir "$runs" -o "$tmp/job.sbatch")
  grep -q "ntasks-per-node=2" "$tmp/job.sbatch" && ok || bad "script: $script $(cat "$tmp/job.sbatch")"
  timeout 300 sbatch --wait "$tmp/job.sbatch" >"$tmp/sbatch.log" 2>&1 && ok \
    || bad "sbatch --wait failed: $(cat "$tmp/sbatch.log") $(cat "$runs"/slurm-*.out 2>/dev/null)"
  python3 - "$runs" <<'PY' && ok || bad "slurm sweep results: $(cat "$runs"/slurm-*.out 2>/dev/null)"
import glob, json, sys
sums = glob.glob(sys.argv[1] + "/*/summary.json")
assert len(sums) == 1, sums
results = glob.glob(sys.argv[1] + "/*/*/result.json")
assert results, "no configuration ran"
for p in results:
    r = json.load(open(p))
    assert r["status"] == "completed", (p, r["status"])
    assert r["ranks"] == 2, (p, r.get("ranks"))
PY
  slurm_stop
elif [ $slurm_rc -eq 77 ]; then
  echo "note: no private Slurm here ($(tail -1 "$tmp/slurm.log")); the Slurm check did not run"
else
  bad "the private Slurm did not start: $(cat "$tmp/slurm.log")"
fi

# --- float options reach ranks and sweep configurations exactly (issue 16) ---
# The launcher and sweeps pass options as text; %g made --lr 0.0123456789 train
# as 0.0123457.  Rank 0 writes config.json from the options it was given.
lr=0.0123456789012345
"$TB" train --dataset synthetic --model resnet18-cifar:w4 --limit-train 64 --limit-test 32 --epochs 1 \
  --batch-size 16 --gpus 2 --threads 1 --quiet --lr $lr --momentum 0.912345678901 --run-dir "$tmp/lr-ranks" \
  >"$tmp/lr-ranks.log" 2>&1 || bad "2-rank run with --lr $lr failed: $(cat "$tmp/lr-ranks.log")"
cat >"$tmp/lr.ini" <<INI
[preset]
title = exact floats
lab = issue16
question = Do float options reach the configurations exactly?
[run]
dataset = synthetic
model = resnet18-cifar:w4
limit_train = 64
limit_test = 32
epochs = 1
batch_size = 16
threads = 1
lr = $lr
[table]
columns = model, lr, test_acc
INI
"$TB" run "$tmp/lr.ini" --runs-dir "$tmp/lr-sweep" --set momentum=0.912345678901 >"$tmp/lr-sweep.log" 2>&1 \
  || bad "sweep with lr = $lr failed: $(cat "$tmp/lr-sweep.log")"
/usr/bin/python3 - "$lr" "$tmp/lr-ranks/config.json" "$tmp"/lr-sweep/*/*/config.json <<'PY' && ok \
  || bad "a rank's or a sweep configuration's config.json lost digits of --lr/--momentum"
import json, sys
want = float(sys.argv[1])
assert len(sys.argv) == 4, sys.argv  # the ranks' run and one sweep configuration
for path in sys.argv[2:]:
    c = json.load(open(path))
    assert c["lr"] == want, (path, c["lr"], want)
    assert c["momentum"] == 0.912345678901, (path, c["momentum"])
PY

# --- the whole job suspended longer than --rank-timeout resumes (issue 16) ----
# As `scontrol suspend`: SIGSTOP to every rank, mpirun and the launcher, then
# SIGCONT.  Rank 1 is stopped a second before the rest, so rank 0 is certainly
# waiting in a collective when it stops too; the watchdog used to count the
# suspension as waiting and killed the healthy job on resume.
run="$tmp/suspend"
"$TB" train --dataset synthetic --model resnet18-cifar:w4 --limit-train 640 --limit-test 32 --epochs 8 \
  --batch-size 16 --gpus 2 --threads 1 --quiet --rank-timeout 3 --run-dir "$run" >"$tmp/suspend.log" 2>&1 &
launcher=$!
wait_epoch "$run" || bad "suspend: no epoch finished"
r0=$(rank_pid 0 "$run")
r1=$(rank_pid 1 "$run")
mpi=$(pgrep -P "$launcher" | head -1)
if [ -n "$r0" ] && [ -n "$r1" ] && [ -n "$mpi" ]; then
  kill -STOP "$r1"
  sleep 1
  kill -STOP "$r0" "$mpi" "$launcher"
  sleep 5 # longer than --rank-timeout 3
  kill -CONT "$launcher" "$mpi" "$r0" "$r1"
  ok
else
  bad "suspend: ranks or mpirun not found (rank 0 '$r0', rank 1 '$r1', mpirun '$mpi')"
fi
wait $launcher
status=$?
check "[ $status -eq 0 ]" "suspended job: exit $status after SIGCONT: $(cat "$tmp/suspend.log")"
[ "$(python3 -c "import json; r = json.load(open('$run/result.json')); print(r['status'], len(r['epochs']))")" \
  = "completed 8" ] && ok || bad "suspended job did not complete its 8 epochs: $(cat "$tmp/suspend.log")"

echo "$((checks - fails)) of $checks checks passed"
[ $fails -eq 0 ]
