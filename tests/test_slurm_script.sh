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
# it by --trainbench; after generating, the copy becomes a stub that prints
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
    --set epochs=2 --runs-dir runs/x --trainbench "$bindir/trainbench" -o "s$i.sbatch"
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

# ---- issue 17: one configuration at a time, Slurm as the labs used it ----
inet=$SRC/presets/imagenet-resnet50-scaling.ini # zip: gpus 1..64 with lr 0.1 .. 6.4, num_workers = 16

# --only on slurm: passed on to the job's `trainbench run`; a list; values
# compared through the option table (lr=0.10 is 0.1); refusals exit 2.
expect 0 '' -- "$TB" slurm "$inet" --nodes 2 --gpus-per-node 4 --only gpus=4,8 --only lr=0.10 -o only.sbatch
check_script only.sbatch
check "grep -qF -- \"run '$inet' --runs-dir 'runs' --only 'gpus=4,8' --only 'lr=0.10'\" only.sbatch" \
  "--only not passed on: $(grep ' run ' only.sbatch)"
expect 2 "gpus=3: no configuration of imagenet-resnet50-scaling has it; gpus is 1, 2, 4, 8, 16, 32, 64 here" -- \
  "$TB" slurm "$inet" --nodes 2 --gpus-per-node 4 --only gpus=3 -o none.sbatch
expect 2 "unknown option 'gpu'.*did you mean 'gpus'" -- "$TB" slurm "$inet" --nodes 2 --gpus-per-node 4 --only gpu=8
expect 2 "no configuration of imagenet-resnet50-scaling has all of these values.*04-gpus-8-lr-0.1 \(gpus=8 lr=0.1\)" \
  -- "$TB" slurm "$inet" --nodes 2 --gpus-per-node 4 --only gpus=8 --only lr=1.6
check "[ ! -e none.sbatch ]" "a script was written for an --only that matches nothing"

# --only on run: the kept configurations, by the values of the preset.
expect 0 "2 configurations at full scale \(--only\)" -- "$TB" run "$inet" --dry-run --only gpus=8,16
check "[ \"\$(grep -c '^0[0-9]-gpus' <<<\"\$last_out\")\" = 2 ] && grep -q '^05-gpus-16-lr-1.6 ' <<<\"\$last_out\"" \
  "run --only gpus=8,16 kept other configurations: $last_out"
expect 0 "^04-gpus-8-lr-0.1 " -- "$TB" run "$inet" --dry-run --scale smoke --only gpus=8
expect 2 "gpus is 1, 2, 4, 8, 16, 32, 64 here" -- "$TB" run "$inet" --dry-run --only gpus=12
expect 2 "unknown option 'gpu'" -- "$TB" run "$inet" --dry-run --only gpu=8

# Allocation check: configurations that need more GPUs than N x G are named.
expect 2 "3 configurations need more GPUs than --nodes 2 x --gpus-per-node 4 = 8: 05-gpus-16-lr-1.6 \(16 GPUs\), \
06-gpus-32-lr-3.2 \(32 GPUs\), 07-gpus-64-lr-6.4 \(64 GPUs\); run the others with --only gpus=1,2,4,8, ask for \
--nodes 16" -- "$TB" slurm "$inet" --nodes 2 --gpus-per-node 4 -o fit.sbatch
check "[ ! -e fit.sbatch ]" "a script was written for an allocation too small"
expect 0 '' -- "$TB" slurm "$inet" --nodes 16 --gpus-per-node 4 -o fit.sbatch

# --per-config: one script per configuration, each sized to its own GPU count
# and picking its configuration with --only.
expect 0 "wrote jobs/imagenet-resnet50-scaling-07-gpus-64-lr-6.4.sbatch" -- \
  "$TB" slurm "$inet" --gpus-per-node 4 --per-config --time 72:00:00 -o jobs
check "[ \"\$(ls jobs | wc -l)\" = 7 ]" "--per-config wrote $(ls jobs | wc -l) scripts, not 7"
k=0
for spec in 1:1:1:0.1 2:1:2:0.1 4:1:4:0.1 8:2:4:0.1 16:4:4:1.6 32:8:4:3.2 64:16:4:6.4; do
  IFS=: read -r g n t lr <<<"$spec"
  k=$((k + 1))
  f=jobs/imagenet-resnet50-scaling-0$k-gpus-$g-lr-$lr.sbatch
  [ -f "$f" ] || { bad "--per-config: no $f"; continue; }
  check_script "$f"
  check "grep -qx '#SBATCH --nodes=$n' '$f' && grep -qx '#SBATCH --ntasks-per-node=$t' '$f' && \
grep -qx '#SBATCH --gpus-per-node=$t' '$f' && grep -qx '#SBATCH --time=72:00:00' '$f'" \
    "$f: not sized to $g GPUs: $(grep '^#SBATCH' "$f" | tr '\n' ' ')"
  check "grep -qF -- \"--only 'gpus=$g' --only 'lr=$lr'\" '$f' && \
grep -qx '#SBATCH --job-name=tb-imagenet-resnet50-scaling-0$k-gpus-$g-lr-$lr' '$f'" "$f: $(grep ' run ' "$f")"
done
# A negated flag is picked by its own name (batch_norm = false is no-batch-norm=true).
expect 0 '' -- "$TB" slurm "$SRC/presets/lab2-c7-batch-norm.ini" --gpus-per-node 1 --per-config -o bn
check "grep -qF -- \"--only 'no-batch-norm=true'\" bn/lab2-c7-batch-norm-02-batch_norm-false.sbatch" \
  "the no-batch-norm configuration's filter: $(grep -h ' run ' bn/*02*)"
# --nodes with --per-config caps the jobs.
expect 2 "07-gpus-64-lr-6.4 \(64 GPUs\)" -- "$TB" slurm "$inet" --nodes 8 --gpus-per-node 4 --per-config -o capped
check "[ ! -e capped ]" "--per-config wrote scripts though one configuration did not fit"

# --cpus-per-task: the preset's num_workers (16 for ImageNet), else the flag.
check "grep -qx '#SBATCH --cpus-per-task=16' fit.sbatch" "cpus-per-task: $(grep cpus-per-task fit.sbatch)"
expect 0 '' -- "$TB" slurm "$SRC/presets/quickstart.ini" --nodes 1 --gpus-per-node 1 -o quick.sbatch
check "grep -qx '#SBATCH --cpus-per-task=2' quick.sbatch" "quickstart (num_workers = 2): $(grep cpus-per quick.sbatch)"
expect 0 '' -- "$TB" slurm "$inet" --nodes 16 --gpus-per-node 4 --cpus-per-task 3 -o three.sbatch
check "grep -qx '#SBATCH --cpus-per-task=3' three.sbatch" "--cpus-per-task 3: $(grep cpus-per three.sbatch)"

# --output names the log; it is an #SBATCH value, so only plain tokens pass.
expect 0 '' -- "$TB" slurm "$inet" --nodes 16 --gpus-per-node 4 --output 'logs/%x-%j.out' -o out.sbatch
check "grep -qx '#SBATCH --output=logs/%x-%j.out' out.sbatch" "--output: $(grep output= out.sbatch)"
for badout in 'a b.out' $'x.out\n#SBATCH --wrap=y' 'l$(touch PWNED)'; do
  expect 2 'only letters, digits' -- "$TB" slurm "$inet" --nodes 16 --gpus-per-node 4 --output "$badout"
done

# trainbench as the compute nodes find it: `trainbench` from their PATH by
# default (not this build folder), --trainbench otherwise; a node without it
# gets a message, not "command not found" halfway.
check "grep -qF \"exec 'trainbench' run '$inet'\" fit.sbatch && ! grep -qF '$TB' fit.sbatch" \
  "the default command: $(grep 'exec ' fit.sbatch)"
mkdir -p nodebin
printf '#!/bin/sh\nprintf "%%s\\0" "$@" >"$ARGV_OUT"\n' >nodebin/trainbench
chmod +x nodebin/trainbench
(SLURM_JOB_NODELIST=n1 SLURM_JOB_ID=7 ARGV_OUT="$tmp/argv-path" PATH="$tmp/nodebin:$PATH" bash fit.sbatch \
  >/dev/null 2>&1)
want=$(printf '%s\0' run "$inet" --runs-dir runs | od -c)
check "[ \"\$(od -c <argv-path 2>/dev/null)\" = \"\$want\" ]" "trainbench from PATH got: $(tr '\0' '|' <argv-path 2>&1)"
expect 127 "trainbench slurm: trainbench is not an executable on" -- env -i PATH=/usr/bin:/bin SLURM_JOB_NODELIST=n1 \
  SLURM_JOB_ID=7 bash fit.sbatch
expect 0 '' -- "$TB" slurm "$inet" --nodes 16 --gpus-per-node 4 --trainbench /opt/tb/bin/trainbench -o tbpath.sbatch
check "grep -qF \"exec '/opt/tb/bin/trainbench' run '$inet'\" tbpath.sbatch" \
  "--trainbench: $(grep 'exec ' tbpath.sbatch)"
expect 2 "expected the path of trainbench" -- "$TB" slurm "$inet" --nodes 16 --gpus-per-node 4 --trainbench -x

# Every configuration runs inside the allocation and the container, the
# 1-GPU baseline too: a sweep inside an allocation (SLURM_JOB_ID) starts it
# with srun, in TB_RANK_WRAPPER (it ran bare on the batch node before).
# Stand-ins for srun and singularity log their words and run the rest.
mkdir -p fakebin
cat >fakebin/srun <<'SH'
#!/bin/sh
printf 'srun %s\n' "$*" >>"$STEP_LOG"
while [ $# -gt 0 ]; do case $1 in --*) shift ;; *) break ;; esac; done
exec "$@"
SH
cat >fakebin/singularity <<'SH'
#!/bin/sh
printf 'singularity step=%s %s\n' "${SLURM_STEP_ID:-none}" "$*" >>"$STEP_LOG"
shift
while [ $# -gt 0 ]; do case $1 in --overlay) shift 2 ;; --*) shift ;; *) break ;; esac; done
shift
exec "$@"
SH
chmod +x fakebin/*
cat >steps.ini <<'INI'
[preset]
title = steps
lab = issue17
question = Does every configuration run as a job step, in the container?
[run]
dataset = synthetic
model = resnet18-cifar:w4
device = cpu
limit_train = 32
limit_test = 16
epochs = 1
batch_size = 16
threads = 1
num_workers = 0
[sweep]
gpus = 1, 2
[table]
columns = gpus, test_acc
INI
expect 0 "completed, 1 of 1 completed" -- env PATH="$tmp/fakebin:$PATH" STEP_LOG="$tmp/steps.log" SLURM_JOB_ID=7 \
  TB_RANK_WRAPPER="singularity exec --nv img.sif" "$TB" run steps.ini --runs-dir steps-runs --only gpus=1
check "[ \"\$(ls -d steps-runs/*/*/ | wc -l)\" = 1 ] && ls -d steps-runs/*-steps-only-01-gpus-1/01-gpus-1 >/dev/null" \
  "--only gpus=1: run directories $(ls -d steps-runs/*/*/ 2>&1)"
check "grep -q '^srun --nodes=1 --ntasks=1 --kill-on-bad-exit=1 singularity exec --nv img.sif $TB train .*--gpus=1 ' \
steps.log && grep -q '^singularity step=none exec --nv img.sif $TB train ' steps.log" \
  "the 1-GPU configuration did not run through srun and the container: $(cat steps.log 2>&1)"
python3 - steps-runs/*/plan.json <<'PY' && ok || bad "plan.json/summary.md do not say --only gpus=1"
import json, sys, os
plan = json.load(open(sys.argv[1]))
assert plan["only"] == ["gpus=1"], plan["only"]
assert [c["id"] for c in plan["configs"]] == ["01-gpus-1"], plan["configs"]
md = open(os.path.join(os.path.dirname(sys.argv[1]), "summary.md")).read()
assert "Only the configurations with gpus=1 (--only)." in md, md
PY
# Outside an allocation nothing changes: no srun.
rm -f steps.log
expect 0 "completed, 1 of 1 completed" -- env -u SLURM_JOB_ID PATH="$tmp/fakebin:$PATH" STEP_LOG="$tmp/steps.log" \
  "$TB" run steps.ini --runs-dir steps-runs2 --only gpus=1
check "[ ! -e steps.log ]" "srun was used outside an allocation: $(cat steps.log 2>&1)"

# A real single-node Slurm (root and slurmctld/slurmd): the per-configuration
# job of the 1-GPU row, with the default `trainbench` from the node's PATH
# and a container stand-in, runs as a job step inside the container.
. "$SRC/tests/slurm_harness.sh"
trap 'slurm_stop; rm -rf "$tmp"' EXIT
slurm_start "$tmp/slurm" >"$tmp/slurm.log" 2>&1
slurm_rc=$?
if [ $slurm_rc -eq 0 ]; then
  mkdir -p nodebin2
  ln -s "$TB" nodebin2/trainbench
  cp fakebin/singularity nodebin2/
  expect 0 "wrote" -- "$TB" slurm steps.ini --gpus-per-node 2 --per-config --only gpus=1 --scale smoke \
    --container img.sif --runs-dir "$tmp/slurm-runs" -o slurm-jobs
  check "[ \"\$(ls slurm-jobs | wc -l)\" = 1 ]" "--per-config --only gpus=1: $(ls slurm-jobs)"
  rm -f steps.log
  PATH="$tmp/nodebin2:$PATH" STEP_LOG="$tmp/steps.log" timeout 300 sbatch --wait slurm-jobs/*.sbatch \
    >sbatch.log 2>&1 && ok || bad "sbatch --wait: $(cat sbatch.log "$tmp"/slurm-runs/slurm-*.out 2>/dev/null)"
  check "grep -q '^singularity step=[0-9][0-9]* exec --nv img.sif .*/trainbench train .*--gpus=1 ' steps.log" \
    "the 1-GPU job did not run as a job step in the container: $(cat steps.log "$tmp"/slurm-runs/slurm-*.out 2>&1)"
  check "grep -q '\"status\": *\"completed\"' \"$tmp\"/slurm-runs/*/01-gpus-1/result.json" \
    "the 1-GPU configuration did not complete: $(cat "$tmp"/slurm-runs/slurm-*.out 2>&1)"
  slurm_stop
elif [ $slurm_rc -eq 77 ]; then
  echo "note: no private Slurm here ($(tail -1 "$tmp/slurm.log")); the real-Slurm check did not run"
else
  bad "the private Slurm did not start: $(cat "$tmp/slurm.log")"
fi

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
