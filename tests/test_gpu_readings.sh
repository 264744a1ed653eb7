#!/usr/bin/env bash
# Per-epoch GPU readings end to end (issue 18): a sweep on the CPU device,
# with the stand-in NVML on the library path (it lists this process on
# GPU 0), records the three gpu_* fields of every epoch as null, and the
# table's GPU columns say n/a.  With readings put into result.json the same
# columns show the averaged epochs' mean utilisation and power, the run's
# peak memory in GiB, and one epoch's figures as gpu_util_e1.
set -u
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
SRC=${SOURCE_ROOT:?set SOURCE_ROOT}
NVML_DIR=${1:?usage: test_gpu_readings.sh DIR_OF_STANDIN_NVML}
. "$SRC/tests/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
cat >gpu.ini <<'INI'
[preset]
title = gpu readings
lab = issue18
question = Is the GPU busy?
[run]
dataset = synthetic
model = resnet18-cifar:w4
device = cpu
limit_train = 32
limit_test = 16
epochs = 2
batch_size = 16
threads = 1
num_workers = 0
[sweep]
lr = 0.1
[table]
columns = lr, gpu_util, gpu_mem_gib, gpu_power_w, gpu_util_e1
INI
export LD_LIBRARY_PATH="$NVML_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" TB_NVML_STANDIN_PID=$$
expect 0 "completed" -- "$TB" run gpu.ini --runs-dir runs
res=$(ls runs/*/*/result.json)
python3 - "$res" <<'PY' && ok || bad "the CPU run's gpu_* fields are not null: $(cat "$res")"
import json, sys
eps = json.load(open(sys.argv[1]))["epochs"]
assert len(eps) == 2
for e in eps:
    for k in ("gpu_util_mean", "gpu_mem_peak_bytes", "gpu_power_mean_w"):
        assert k in e and e[k] is None, (k, e.get(k, "absent"))
PY
sweep=$(dirname "$(dirname "$res")")
expect 0 "" -- "$TB" export "$sweep"
check "grep -q '| GPU util (%) | GPU mem peak (GiB) | GPU power (W) |' <<<\"\$last_out\" && \
grep -qE '\| n/a \| n/a \| n/a \| n/a \|' <<<\"\$last_out\"" "the CPU run's GPU columns: $last_out"

# Readings as a GPU run records them: epoch 1 is left out of the averages
# (--average-skip 1), the peak is the run's.
python3 - "$res" <<'PY' || bad "could not edit $res"
import json, sys
r = json.load(open(sys.argv[1]))
for e, (u, m, p) in zip(r["epochs"], [(50.0, 3 * 2**30, 100.0), (70.0, 2 * 2**30, 200.0)]):
    e.update(gpu_util_mean=u, gpu_mem_peak_bytes=m, gpu_power_mean_w=p)
json.dump(r, open(sys.argv[1], "w"))
PY
expect 0 "" -- "$TB" export "$sweep"
check "grep -qE '\| 70\.00 \| 3\.00 \| 200 \| 50\.00 \|' <<<\"\$last_out\"" "the GPU columns with readings: $last_out"

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
