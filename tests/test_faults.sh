#!/usr/bin/env bash
# Crash safety and measurement validity (issue 9) on real training runs:
#  - checkpoint + resume: a run interrupted (SIGINT) or killed (kill -9 at
#    random moments, repeatedly) and resumed ends with exactly the weights of
#    an uninterrupted run, and result.json / the checkpoint are never corrupt;
#  - a second SIGINT stops at once;
#  - a NaN loss names the epoch, the step and the last good checkpoint;
#  - a full disk (a small tmpfs) or an unwritable run folder gives a clear
#    error and leaves the earlier results and checkpoint intact;
#  - --profile writes a well-formed trace whose spans nest and add up;
#  - --repeat reports min/median/max.
set -u
. "$(dirname "$0")/lib.sh"
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
SRC=${SOURCE_ROOT:-$(dirname "$0")/..}
tmp=$(mktemp -d)
mnt=
cleanup() {
  [ -n "$mnt" ] && umount "$mnt" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
# Every JSON file of a run directory parses and the checkpoint is whole.
intact() {
  local d=$1 f
  for f in "$d"/result.json "$d"/checkpoint.json; do
    [ -e "$f" ] || continue
    python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$f" 2>/dev/null || return 1
  done
  [ -e "$d/checkpoint.safetensors" ] || return 0
  python3 - "$d/checkpoint.safetensors" <<'PY'
import json, os, struct, sys
p = sys.argv[1]
with open(p, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
end = max(v["data_offsets"][1] for k, v in h.items() if k != "__metadata__")
sys.exit(0 if os.path.getsize(p) == 8 + n + end and "trainbench.checkpoint" in h["__metadata__"] else 1)
PY
}

# Small enough for CI, long enough (about 40 steps per epoch) to be hit mid-epoch.
common=(--model resnet18-cifar:w4 --limit-train 2000 --limit-test 300 --batch-size 50 --epochs 3
        --threads 1 --quiet --save-weights)

"$TB" train "${common[@]}" --run-dir "$tmp/full" >"$tmp/full.log" 2>&1 || bad "reference run failed: $(cat "$tmp/full.log")"
check "[ -s '$tmp/full/checkpoint.safetensors' ] && [ -s '$tmp/full/checkpoint.json' ]" "no checkpoint after a run"
check "[ \"\$(json '$tmp/full/checkpoint.json' \"(d['epoch'], d['batch'], d['optimizer_step'])\")\" = '(3, 0, 120)' ]" \
  "checkpoint.json position: $(json "$tmp/full/checkpoint.json" "(d['epoch'], d['batch'], d['optimizer_step'])")"

# --- SIGINT mid-epoch: checkpoint, status interrupted, exit 130; resume = same weights
"$TB" train "${common[@]}" --run-dir "$tmp/int" >"$tmp/int.log" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q '"event":"epoch_start".*"epoch":2,' "$tmp/int/events.jsonl" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid
wait $pid
rc=$?
check "[ $rc -eq 130 ]" "SIGINT: exit $rc, want 130"
check "[ \"\$(json '$tmp/int/result.json' \"d['status']\")\" = interrupted ]" "SIGINT: result.json not interrupted"
check "grep -q '\"reason\":\"interrupted\"' '$tmp/int/events.jsonl'" "SIGINT: no checkpoint event"
check "grep -q 'trainbench train --resume' '$tmp/int.log'" "SIGINT: message lacks the resume command: $(cat "$tmp/int.log")"
pos=$(json "$tmp/int/checkpoint.json" "(d['epoch'], d['batch'])")
check "[ \"${pos%%,*}\" = '(1' ] && [ \"${pos#*, }\" != '0)' ]" "SIGINT checkpoint not mid-epoch 2: $pos"
"$TB" train --resume "$tmp/int" --num-workers 0 >"$tmp/int-resume.log" 2>&1 || bad "resume failed: $(cat "$tmp/int-resume.log")"
check "cmp -s '$tmp/full/weights.safetensors' '$tmp/int/weights.safetensors'" \
  "resumed after SIGINT at $pos: weights differ from the uninterrupted run"
check "[ \"\$(json '$tmp/full/result.json' \"[e['train_loss'] for e in d['epochs']]\")\" = \"\$(json '$tmp/int/result.json' \"[e['train_loss'] for e in d['epochs']]\")\" ]" \
  "resumed run reports other losses than the uninterrupted one"
check "[ \"\$(json '$tmp/int/result.json' \"(d['status'], len(d['resumed']))\")\" = \"('completed', 1)\" ]" \
  "resumed result.json: $(json "$tmp/int/result.json" "(d['status'], d.get('resumed'))")"
expect 2 "already finished 3 epochs; pass --epochs" -- "$TB" train --resume "$tmp/int"
expect 2 "checkpoint was taken with batch_size = 50" -- "$TB" train --resume "$tmp/int" --epochs 4 --batch-size 64
expect 2 "not a run directory" -- "$TB" train --resume "$tmp/nowhere"

# --- kill -9 at random moments, resumed until done: never corrupt, same weights
# (a longer run of its own, so that even a fast machine is hit several times)
k9=("${common[@]}" --limit-train 6000)
"$TB" train "${k9[@]}" --run-dir "$tmp/k9full" >"$tmp/k9full.log" 2>&1 || bad "kill -9 reference: $(cat "$tmp/k9full.log")"
mkdir -p "$tmp/k9"
attempts=0 kills=0
RANDOM=9
while [ $attempts -lt 9 ]; do
  attempts=$((attempts + 1))
  if [ -e "$tmp/k9/run/checkpoint.safetensors" ]; then
    args=(train --resume "$tmp/k9/run" --checkpoint-every 0.004)
  else
    rm -rf "$tmp/k9/run"
    args=(train "${k9[@]}" --checkpoint-every 0.004 --run-dir "$tmp/k9/run")
  fi
  "$TB" "${args[@]}" >>"$tmp/k9.log" 2>&1 &
  pid=$!
  delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.3 + r % 250 / 100 }')
  sleep "$delay"
  # The last attempt runs to the end (a loaded machine may be slow).
  if [ $attempts -lt 9 ] && kill -0 $pid 2>/dev/null; then
    kill -9 $pid
    kills=$((kills + 1))
  fi
  wait $pid 2>/dev/null
  rc=$?
  intact "$tmp/k9/run" || bad "kill -9 after ${delay}s left a corrupt file in $(ls "$tmp/k9/run")"
  [ $rc -eq 0 ] && break
done
check "[ $kills -ge 2 ]" "kill -9 loop: only $kills kills in $attempts attempts"
check "[ \"\$(json '$tmp/k9/run/result.json' \"d['status']\")\" = completed ]" "kill -9 loop never completed ($attempts attempts)"
check "cmp -s '$tmp/k9full/weights.safetensors' '$tmp/k9/run/weights.safetensors'" \
  "after $kills kills and resumes: weights differ from the uninterrupted run"
check "grep -q '\"reason\":\"timer\"' '$tmp/k9/run/events.jsonl'" "--checkpoint-every wrote no timed checkpoint"

# --- a second SIGINT stops at once (a wide model: one step takes long) -------
"$TB" train --model resnet18-cifar:w32 --batch-size 256 --limit-train 4096 --limit-test 64 --epochs 1 \
  --threads 1 --quiet --run-dir "$tmp/twice" >"$tmp/twice.log" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q '"event":"epoch_start"' "$tmp/twice/events.jsonl" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
t0=$(date +%s.%N)
kill -INT $pid; sleep 0.1; kill -INT $pid
wait $pid
rc=$?
t1=$(date +%s.%N)
check "awk -v a=$t0 -v b=$t1 'BEGIN { exit !(b - a < 3) }'" "second SIGINT: took $(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }') s to stop"
check "[ $rc -eq 130 ]" "second SIGINT: exit $rc"
check "intact '$tmp/twice'" "second SIGINT left a corrupt file"

# --- NaN loss: names the epoch, the step and the last good checkpoint --------
expect 1 "loss became (nan|inf|-nan).* at epoch 1 step [0-9]+.*no checkpoint yet" -- \
  "$TB" train "${common[@]}" --lr 1e6 --no-batch-norm --run-dir "$tmp/nan1"
check "[ \"\$(json '$tmp/nan1/result.json' \"d['status']\")\" = failed ]" "NaN: result.json not failed"
cp -r "$tmp/full" "$tmp/nan2"
expect 1 "loss became .* at epoch 4 step [0-9]+.*last good checkpoint is $tmp/nan2/checkpoint.safetensors \(epoch 4, batch 0\)" -- \
  "$TB" train --resume "$tmp/nan2" --epochs 5 --lr 1e6
check "cmp -s '$tmp/full/checkpoint.safetensors' '$tmp/nan2/checkpoint.safetensors'" "NaN run overwrote the good checkpoint"

# --- unwritable run folder and full disk ------------------------------------
: >"$tmp/afile"
expect 1 "cannot create run directory $tmp/afile/run: Not a directory" -- "$TB" train "${common[@]}" --run-dir "$tmp/afile/run"
if [ "$(id -u)" -eq 0 ] && mnt=$tmp/small && mkdir -p "$mnt" && mount -t tmpfs -o size=1200k tmpfs "$mnt" 2>/dev/null; then
  cp -r "$tmp/full" "$mnt/run"
  cp "$mnt/run/checkpoint.safetensors" "$tmp/ckpt.before"
  cp "$mnt/run/result.json" "$tmp/result.before"
  # Fill the disk but for a few kilobytes: events still fit, a checkpoint not.
  dd if=/dev/zero of="$mnt/fill" bs=1k count=2000 2>/dev/null
  rm -f "$mnt/fill"
  avail=$(df -k --output=avail "$mnt" | tail -1)
  dd if=/dev/zero of="$mnt/fill" bs=1k count=$((avail - 24)) 2>/dev/null
  expect 1 "No space left on device" -- "$TB" train --resume "$mnt/run" --epochs 4
  check "cmp -s '$tmp/ckpt.before' '$mnt/run/checkpoint.safetensors'" "disk full: the previous checkpoint changed"
  check "intact '$mnt/run'" "disk full: a corrupt file in the run folder"
  check "! ls '$mnt/run' | grep -q '\\.tmp'" "disk full: temporary files left: $(ls "$mnt/run")"
  rm -f "$mnt/fill"
  "$TB" train --resume "$mnt/run" --epochs 4 >"$tmp/after-full.log" 2>&1 || bad "resume after freeing space failed: $(cat "$tmp/after-full.log")"
  check "[ \"\$(json '$mnt/run/result.json' \"(d['status'], len(d['epochs']))\")\" = \"('completed', 4)\" ]" "resume after a full disk"
  umount "$mnt" && mnt=
else
  echo "note: not root or no tmpfs mount here: the full-disk case is skipped"
fi

# --- --profile: trace structure and timing consistency -----------------------
"$TB" train "${common[@]}" --epochs 2 --limit-train 600 --run-dir "$tmp/prof" --profile "$tmp/prof/trace.json" \
  --profile-layers >"$tmp/prof.log" 2>&1 || bad "--profile run failed: $(cat "$tmp/prof.log")"
out=$(python3 "$SRC/tests/check_trace.py" "$tmp/prof/trace.json" "$tmp/prof/result.json" --layers 2>&1) && ok ||
  bad "trace: $out"
expect 2 "profile-layers.*needs --profile|--profile-layers needs --profile" -- "$TB" train "${common[@]}" --profile-layers

# --- --repeat: min/median/max ---------------------------------------------
"$TB" train "${common[@]}" --epochs 2 --limit-train 400 --repeat 3 --run-dir "$tmp/rep" >"$tmp/rep.log" 2>&1 ||
  bad "--repeat run failed: $(cat "$tmp/rep.log")"
/usr/bin/python3 - "$tmp/rep/result.json" <<'PY' && ok || bad "--repeat figures"
import json, statistics, sys
d = json.load(open(sys.argv[1]))
s, reps = d["summary"], d["repeats"]
assert len(reps) == 3 and s["repeats"]["count"] == 3, (len(reps), s.get("repeats"))
for key in ("avg_epoch_s", "images_per_s", "avg_train_s"):
    v = [r[key] for r in reps]
    st = s["repeats"][key]
    assert st["min"] == min(v) and st["max"] == max(v), (key, st, v)
    assert abs(st["median"] - statistics.median(v)) < 1e-9 * max(v), (key, st, v)
    assert abs(s[key] - st["median"]) < 1e-9 * max(v), (key, s[key], st)
# Same start, same data: every repeat reaches the same accuracy.
acc = {r["final_test_acc"] for r in reps}
assert len(acc) == 1, acc
assert s["warmup_epochs_excluded"] == 1
PY

# --- 20 epochs keep a flat resident set (no leak per step or per epoch) -----
"$TB" train --dataset synthetic --model resnet18-cifar:w4 --limit-train 512 --limit-test 128 --batch-size 64 \
  --epochs 20 --threads 1 --quiet --run-dir "$tmp/rss" >"$tmp/rss.log" 2>&1 || bad "20-epoch run: $(cat "$tmp/rss.log")"
/usr/bin/python3 - "$tmp/rss/result.json" <<'PY' && ok || bad "RSS grows over 20 epochs"
import json, sys
rss = [e["rss_bytes"] for e in json.load(open(sys.argv[1]))["epochs"]]
assert len(rss) == 20 and min(rss) > 0, rss
# After the first epochs (caches, pools) the resident set stays within 1 MiB.
growth = max(rss[2:]) - rss[2]
print(f"RSS epoch 3 {rss[2] / 2**20:.1f} MiB, epoch 20 {rss[-1] / 2**20:.1f} MiB, growth {growth / 1024:.0f} KiB")
assert growth <= 1 << 20, rss
PY

# --- --repeat in a preset: the exported table shows median [min, max] ---------
cat >"$tmp/rep.ini" <<'INI'
[preset]
title = repeat test
lab = test
question = do tables show the spread over repeats?
[run]
dataset = synthetic
model = resnet18-cifar:w4
limit_train = 256
limit_test = 64
epochs = 2
batch_size = 64
threads = 1
repeat = 3
[sweep]
num_workers = 0, 1
[table]
columns = num_workers, epoch_s, images_per_s, test_acc
INI
"$TB" run "$tmp/rep.ini" --runs-dir "$tmp/repruns" >"$tmp/repsweep.log" 2>&1 || bad "--repeat sweep: $(cat "$tmp/repsweep.log")"
md=$("$TB" export "$(ls -d "$tmp/repruns/"*-rep)" 2>&1)
check "grep -qE '^\| 0 \| [0-9.]+ \[[0-9.]+, [0-9.]+\] \| [0-9]+ \[[0-9]+, [0-9]+\] \|' <<<\"\$md\"" "--repeat table: $md"
check "grep -q 'median over the repeats' <<<\"\$md\"" "--repeat table lacks its footnote: $md"
json_out=$("$TB" export "$(ls -d "$tmp/repruns/"*-rep)" --format json 2>&1)
/usr/bin/python3 -c '
import json, sys
t = json.loads(sys.argv[1])["tables"][0]
cell = t["rows"][0][1]
assert set(cell) == {"median", "min", "max"} and cell["min"] <= cell["median"] <= cell["max"], cell
' "$json_out" && ok || bad "--repeat JSON export: $json_out"

# --- a sweep interrupted mid-configuration continues it from its checkpoint ---
sed -e 's/^repeat = 3$/epochs = 3/' -e 's/^epochs = 2$//' -e 's/^num_workers = 0, 1$/num_workers = 1/' \
    -e 's/^limit_train = 256$/limit_train = 1280/' "$tmp/rep.ini" >"$tmp/ckpt.ini"
"$TB" run "$tmp/ckpt.ini" --runs-dir "$tmp/ckruns" >"$tmp/ckpt1.log" 2>&1 &
pid=$!
for _ in $(seq 300); do
  ev=$(ls "$tmp"/ckruns/*-ckpt/*/events.jsonl 2>/dev/null | head -1)
  [ -n "$ev" ] && grep -q '"event":"epoch_start".*"epoch":2,' "$ev" && break
  sleep 0.1
done
kill -TERM $pid
wait $pid
rc=$?
check "[ $rc -eq 130 ]" "sweep SIGTERM: exit $rc: $(cat "$tmp/ckpt1.log")"
"$TB" run "$tmp/ckpt.ini" --runs-dir "$tmp/ckruns" --resume >"$tmp/ckpt2.log" 2>&1 || bad "sweep resume: $(cat "$tmp/ckpt2.log")"
check "grep -q 'resuming from its checkpoint' '$tmp/ckpt2.log'" "sweep resume restarted the configuration: $(cat "$tmp/ckpt2.log")"
res=$(ls "$tmp"/ckruns/*-ckpt/*/result.json | head -1)
check "[ \"\$(json '$res' \"(d['status'], len(d['epochs']), len(d['resumed']))\")\" = \"('completed', 3, 1)\" ]" \
  "sweep resume result: $(json "$res" "(d['status'], len(d['epochs']), d.get('resumed'))")"
# A link planted at a configuration's log is neither written through nor read
# back as the failure reason (issue 16): the configuration fails, the file is untouched.
sdir=$(dirname "$(dirname "$res")"); cid=$(basename "$(dirname "$res")")
echo precious >"$tmp/log-victim"
rm -rf "${sdir:?}/$cid" "$sdir/$cid.log"
ln -s "$tmp/log-victim" "$sdir/$cid.log"
expect 1 "symbolic link" -- "$TB" run "$tmp/ckpt.ini" --runs-dir "$tmp/ckruns" --resume
check "[ \"\$(cat '$tmp/log-victim')\" = precious ]" "a sweep wrote through a link at $cid.log"
check "! grep -q precious '$sdir/summary.json'" "the sweep read a planted link back as the failure reason"

# --- hostile targets and damaged run files (issue 16) ---------------------------
# --profile and export -o never write through a symbolic link, and refuse to
# replace a FIFO (a writer would block on it, or as root a device, replaced).
echo precious >"$tmp/victim"
ln -s "$tmp/victim" "$tmp/link.json"
mkfifo "$tmp/fifo.json"
small=(--model resnet18-cifar:w4 --limit-train 100 --limit-test 50 --batch-size 50 --epochs 1 --threads 1 --quiet)
for target in link.json fifo.json; do
  kind=$([ "$target" = link.json ] && echo "symbolic link" || echo FIFO)
  expect 1 "$kind" -- timeout 120 "$TB" train "${small[@]}" --run-dir "$tmp/prof-$target" --profile "$tmp/$target"
  expect 1 "$kind" -- timeout 60 "$TB" export "$tmp/full" -o "$tmp/$target"
done
check "[ -L '$tmp/link.json' ] && [ \"\$(cat '$tmp/victim')\" = precious ]" "a link or what it names was replaced"
check "[ -p '$tmp/fifo.json' ]" "the FIFO was replaced"
# A FIFO named result.json is refused at once by the readers (never waited on).
mkdir -p "$tmp/fiforun" && cp "$tmp/full/config.json" "$tmp/fiforun/" && mkfifo "$tmp/fiforun/result.json"
expect 1 "FIFO" -- timeout 20 "$TB" export "$tmp/fiforun"
# A partial temporary file of a run killed mid-write is removed on resume.
cp -r "$tmp/full" "$tmp/stale"
head -c 4096 "$tmp/full/checkpoint.safetensors" >"$tmp/stale/.checkpoint.safetensors.tmp-Ab12Cd"
"$TB" train --resume "$tmp/stale" --epochs 4 >"$tmp/stale.log" 2>&1 \
  || bad "resume with a stale temporary: $(cat "$tmp/stale.log")"
check "! ls -A '$tmp/stale' | grep -q '\.tmp'" "temporary files left after resume: $(ls -A "$tmp/stale")"
check "! ls -A '$tmp/k9/run' | grep -q '\.tmp'" "kill -9 loop left temporary files: $(ls -A "$tmp/k9/run")"
# config.json of the wrong JSON type (an array, a string, a number, null
# fields) and a checkpoint whose state is damaged: refused with a message.
for bad_config in '[1, 2]' '"text"' '42' '{"epochs": null}' '{"lr": "fast"}' '{"model": []}'; do
  rm -rf "$tmp/dmg" && cp -r "$tmp/full" "$tmp/dmg"
  printf '%s\n' "$bad_config" >"$tmp/dmg/config.json"
  expect 2 "config.json" -- timeout 60 "$TB" train --resume "$tmp/dmg" --epochs 4
  check "! grep -qi 'segmentation\|abort\|core dumped' <<<\"\$last_out\"" "config.json $bad_config: $last_out"
done

# --- issue 16: signals, a full disk mid-run, failed resumes, damaged checkpoints
sref=(--model resnet18-cifar:w4 --limit-train 1000 --limit-test 100 --batch-size 50 --epochs 2 --threads 1 --quiet
      --save-weights)
"$TB" train "${sref[@]}" --run-dir "$tmp/sref" >"$tmp/sref.log" 2>&1 || bad "small reference run: $(cat "$tmp/sref.log")"
status_of() { json "$1/result.json" "d['status']" 2>&1; }
wait_epoch2() {
  for _ in $(seq 600); do grep -q '"event":"epoch_start".*"epoch":2,' "$1/events.jsonl" 2>/dev/null && return; sleep 0.05; done
}
# HUP (a closed SSH session), TERM, USR1 (Slurm's --signal warning) and USR2
# stop like SIGINT: checkpoint, interrupted, exit 130.  HUP and TERM sent
# twice still checkpoint (only Ctrl-C twice stops at once).
# A test started under nohup (or by a CI runner that ignores HUP) passes the
# ignored HUP on, and bash cannot undo that; python restores the default, so
# the run sees HUP as a user's closed session would deliver it.
# (Called only as `with_default_hup ... &`: the exec keeps $! the run's pid.)
with_default_hup() { exec python3 -c 'import os, signal, sys
signal.signal(signal.SIGHUP, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$@"; }
for sig in HUP TERM USR1 USR2; do
  d=$tmp/sig-$sig
  with_default_hup "$TB" train "${sref[@]}" --run-dir "$d" >"$d.log" 2>&1 &
  pid=$!
  wait_epoch2 "$d"
  kill -"$sig" $pid
  case $sig in HUP | TERM) sleep 0.05; kill -"$sig" $pid 2>/dev/null ;; esac
  wait $pid
  rc=$?
  check "[ $rc -eq 130 ] && [ \"\$(status_of '$d')\" = interrupted ]" "SIG$sig: exit $rc, status $(status_of "$d")"
  check "grep -q '\"reason\":\"interrupted\"' '$d/events.jsonl'" "SIG$sig: no checkpoint"
done
"$TB" train --resume "$tmp/sig-HUP" >"$tmp/sig-resume.log" 2>&1 || bad "resume after SIGHUP: $(cat "$tmp/sig-resume.log")"
check "cmp -s '$tmp/sref/weights.safetensors' '$tmp/sig-HUP/weights.safetensors'" "resumed after SIGHUP: other weights"
# Started under nohup (HUP ignored): a hangup does not stop the run.
d=$tmp/sig-nohup
(trap '' HUP; exec "$TB" train "${sref[@]}" --run-dir "$d") >"$d.log" 2>&1 &
pid=$!
wait_epoch2 "$d"
kill -HUP $pid
wait $pid
rc=$?
check "[ $rc -eq 0 ] && [ \"\$(status_of '$d')\" = completed ]" "nohup + SIGHUP: exit $rc, status $(status_of "$d")"
# A closed stdout (SIGPIPE ignored: the writes fail, the run goes on).
d=$tmp/sig-pipe
loud=()
for a in "${sref[@]}"; do [ "$a" = --quiet ] || loud+=("$a"); done
"$TB" train "${loud[@]}" --run-dir "$d" 2>"$d.err" | head -c 1 >/dev/null
rc=${PIPESTATUS[0]}
check "[ $rc -eq 0 ] && [ \"\$(status_of '$d')\" = completed ]" "closed stdout: exit $rc, status $(status_of "$d"): $(cat "$d.err")"
# A file size limit (SIGXFSZ ignored: the write fails with EFBIG): failed, with the reason.
d=$tmp/sig-xfsz
(ulimit -f 200; exec "$TB" train "${sref[@]}" --run-dir "$d") >"$d.log" 2>&1
rc=$?
check "[ $rc -eq 1 ] && [ \"\$(status_of '$d')\" = failed ]" "file size limit: exit $rc, status $(status_of "$d")"
check "[ \"\$(json '$d/result.json' \"'File too large' in d['error']\")\" = True ]" "file size limit: no reason in result.json"

# A --resume that fails before training starts changes nothing on disk (a
# wrong --data-dir replaced config.json and wiped the epochs of result.json).
cp -r "$tmp/sref" "$tmp/badres"
expect 1 "not found in $tmp/nowhere" -- "$TB" train --resume "$tmp/badres" --epochs 3 --data-dir "$tmp/nowhere"
check "diff -r --exclude=.lock '$tmp/sref' '$tmp/badres' >/dev/null" "failed resume changed: $(diff -r --exclude=.lock "$tmp/sref" "$tmp/badres" | head -5)"
"$TB" train --resume "$tmp/badres" --epochs 3 >"$tmp/badres.log" 2>&1 || bad "resume after a failed one: $(cat "$tmp/badres.log")"
check "[ \"\$(json '$tmp/badres/result.json' \"(d['status'], len(d['epochs']))\")\" = \"('completed', 3)\" ]" \
  "resume after a failed resume: $(json "$tmp/badres/result.json" "(d['status'], len(d['epochs']))")"
# A checkpoint holding NaN weights is refused, and changes nothing either.
cp -r "$tmp/sref" "$tmp/nanck"
python3 - "$tmp/nanck/checkpoint.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
name, t = next((k, v) for k, v in h.items() if k != "__metadata__" and v["dtype"] == "F32" and "running_var" in k)
b[8 + n + t["data_offsets"][0]:8 + n + t["data_offsets"][0] + 4] = struct.pack("<f", float("nan"))
open(p, "wb").write(b)
PY
expect 1 "holds nan at element 0; the checkpoint is damaged" -- "$TB" train --resume "$tmp/nanck" --epochs 3
check "[ \"\$(json '$tmp/nanck/result.json' \"(d['status'], len(d['epochs']))\")\" = \"('completed', 2)\" ]" \
  "NaN checkpoint: result.json changed"
# Killed during its first checkpoint (no checkpoint, no finished epoch, a
# partial temporary): --resume starts it again in place with its own options.
mkdir "$tmp/first" && cp "$tmp/sref/config.json" "$tmp/first/"
python3 - "$tmp/sref/result.json" "$tmp/first/result.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d.update(status="running", epochs=[])
json.dump(d, open(sys.argv[2], "w"))
PY
head -c 4096 "$tmp/sref/checkpoint.safetensors" >"$tmp/first/.checkpoint.safetensors.tmp-Zz9Yx8"
expect 2 "batch_size = 50, this run has 64" -- "$TB" train --resume "$tmp/first" --batch-size 64
"$TB" train --resume "$tmp/first" >"$tmp/first.log" 2>&1 || bad "restart without a checkpoint: $(cat "$tmp/first.log")"
check "cmp -s '$tmp/sref/weights.safetensors' '$tmp/first/weights.safetensors'" "restart in place: other weights"
check "[ \"\$(status_of '$tmp/first')\" = completed ] && ! ls -A '$tmp/first' | grep -q tmp" "restart in place: $(ls -A "$tmp/first")"
# Finished epochs but no checkpoint (--no-checkpoint): refused, with the reason.
"$TB" train "${sref[@]}" --epochs 1 --no-checkpoint --run-dir "$tmp/nock" >/dev/null 2>&1
expect 2 "no checkpoint \(it ran with --no-checkpoint\) and its 1 finished epoch cannot be continued" -- \
  "$TB" train --resume "$tmp/nock" --epochs 2
# --profile that cannot be written: exit 1 and result.json says failed, with the reason.
expect 1 "profile" -- "$TB" train "${small[@]}" --run-dir "$tmp/badprof" --profile "$tmp/afile/trace.json"
check "[ \"\$(status_of '$tmp/badprof')\" = failed ]" "--profile failure: status $(status_of "$tmp/badprof")"
# The disk fills mid-run: status failed with the reason (the run keeps room
# for its last result.json), exit 1.
if [ "$(id -u)" -eq 0 ] && mnt=$tmp/small2 && mkdir -p "$mnt" && mount -t tmpfs -o size=2m tmpfs "$mnt" 2>/dev/null; then
  "$TB" train "${sref[@]}" --run-dir "$mnt/run" >"$tmp/fill.log" 2>&1 &
  pid=$!
  wait_epoch2 "$mnt/run"
  dd if=/dev/zero of="$mnt/fill" bs=1k count=4000 2>/dev/null
  wait $pid
  rc=$?
  check "[ $rc -eq 1 ] && [ \"\$(status_of '$mnt/run')\" = failed ]" "disk full mid-run: exit $rc, status $(status_of "$mnt/run")"
  check "[ \"\$(json '$mnt/run/result.json' \"'No space left' in d['error']\")\" = True ]" "disk full mid-run: no reason"
  check "tail -1 '$mnt/run/events.jsonl' | grep -q '\"status\":\"failed\"'" "disk full mid-run: no run_end event"
  check "! ls -A '$mnt/run' | grep -q 'tmp\|reserve'" "disk full mid-run: files left: $(ls -A "$mnt/run")"
  umount "$mnt" && mnt=
fi

echo "$((checks - fails)) of $checks checks passed"
[ $fails -eq 0 ]
