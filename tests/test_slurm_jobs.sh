#!/usr/bin/env bash
# The Jobs screen's Slurm side (issue 18) against a real single-node Slurm:
# the script `trainbench slurm` writes for a preset (its job name tb-NAME and
# its #SBATCH --comment=trainbench:RUNS), run with a stand-in trainbench that
# sleeps, is listed by the query the screen runs (state, nodes, elapsed time,
# runs dir), its sweep directory found, then cancelled through the function
# the screen calls, and gone.  Skipped (77) without root or slurmctld/slurmd.
set -u
DRIVER=$(realpath "${1:?usage: test_slurm_jobs.sh TEST_SLURM_JOBS}")
SRC=${SOURCE_ROOT:?set SOURCE_ROOT}
. "$SRC/tests/lib.sh"
. "$SRC/tests/slurm_harness.sh"
tmp=$(mktemp -d)
trap 'slurm_stop; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
slurm_start "$tmp/slurm" >"$tmp/slurm.log" 2>&1
rc=$?
[ $rc -eq 77 ] && { echo "skipped: $(tail -1 "$tmp/slurm.log")"; exit 77; }
[ $rc -eq 0 ] || { echo "the private Slurm did not start: $(cat "$tmp/slurm.log")"; exit 1; }

TB=${TRAINBENCH:?set TRAINBENCH}
mkdir runs bin
cat >jobtest.ini <<'INI'
[preset]
title = jobs
lab = issue18
question = Is it listed?
[run]
dataset = synthetic
model = resnet18-cifar:w4
device = cpu
epochs = 1
num_workers = 0
[sweep]
lr = 0.1
[table]
columns = lr, test_acc
INI
printf '#!/bin/sh\nexec sleep 300\n' >bin/trainbench
chmod +x bin/trainbench
expect 0 "" -- "$TB" slurm jobtest.ini --nodes 1 --gpus-per-node 1 --scale smoke --runs-dir runs \
  --trainbench "$tmp/bin/trainbench" -o job.sbatch
check "grep -q '^#SBATCH --comment=trainbench:runs$' job.sbatch" "no comment in $(cat job.sbatch)"
# the sweep directory the job would write (the stand-in does not)
mkdir -p runs/2026-01-01_00-00-00-jobtest
echo '{"preset": "jobtest"}' >runs/2026-01-01_00-00-00-jobtest/plan.json
id=$(sbatch --parsable job.sbatch)
check "[[ '$id' =~ ^[0-9]+$ ]]" "sbatch gave no job id: $id"
# A job of another kind is listed by squeue but not by trainbench.
other=$(sbatch --parsable --job-name=notours --output=/dev/null --wrap='sleep 300')

line=""
for _ in $(seq 100); do
  line=$("$DRIVER" list | grep "^$id ")
  grep -q " RUNNING " <<<"$line" && break
  sleep 0.1
done
read -r jid name state elapsed nodes nodelist runs <<<"$line"
check "[ '$name' = tb-jobtest ] && [ '$state' = RUNNING ] && [ '$nodes' = 1 ]" "listed as: '$line'"
check "[ '$nodelist' = '$(hostname -s)' ]" "node list '$nodelist', want $(hostname -s)"
check "[[ '$elapsed' =~ ^[0-9]+:[0-9][0-9]$ ]]" "elapsed '$elapsed' is not m:ss"
check "[ '$runs' = '$tmp/runs' ]" "runs dir '$runs', want $tmp/runs (the comment against the work dir)"
expect 0 "^$tmp/runs/2026-01-01_00-00-00-jobtest\$" -- "$DRIVER" sweep-dir "$id"
out=$("$DRIVER" list)
check "! grep -q notours <<<\"\$out\" && grep -q '^refused 0$' <<<\"\$out\"" "the list: $out"

expect 0 "" -- "$DRIVER" cancel "$id"
gone=0
for _ in $(seq 100); do
  "$DRIVER" list | grep -q "^$id " || { gone=1; break; }
  sleep 0.1
done
check "[ $gone = 1 ]" "job $id is still listed after the cancel: $("$DRIVER" list)"
check "squeue -h -j '$other' -o %T | grep -q RUNNING" "the other job was touched"
# A job id that is not one is refused before scancel runs.
expect 1 "a job id is digits" -- "$DRIVER" cancel "--me"
scancel "$other" 2>/dev/null

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
