#!/usr/bin/env bash
# The trainbench command line end to end: model info, a tiny training run and
# its run directory, and what bad input gets (message, exit status, no run
# directory or a failed result.json).
set -u
. "$(dirname "$0")/lib.sh"
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT



json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# --- model info -------------------------------------------------------------
expect 0 "parameters : 11173962" -- "$TB" model info resnet18-cifar
expect 0 "Convolution layers +: 17" -- "$TB" model info resnet18-cifar
expect 0 "parameters : 11164362" -- "$TB" model info resnet18-cifar --no-batch-norm
expect 0 "parameters : 25557032" -- "$TB" model info resnet50
expect 0 "layer4.1.conv2" -- "$TB" model info resnet18-cifar --layers
expect 2 "unknown model 'resnet19'" -- "$TB" model info resnet19
"$TB" model info resnet50 --json >"$tmp/info.json"
[ "$(json "$tmp/info.json" "d['params'], d['conv_layers'], d['gradients']")" = "(25557032, 49, 25557032)" ] \
  && ok || bad "model info --json: $(cat "$tmp/info.json")"

# --- help and unknown commands ----------------------------------------------
expect 0 "usage: trainbench" -- "$TB"
expect 0 "--num-workers" -- "$TB" train --help
expect 2 "unknown command 'frobnicate'" -- "$TB" frobnicate

# --- bad flags and values: one line, exit 2, no run directory ---------------
runs="$tmp/runs"
expect 2 "--batch-size 0: expected an integer from 1" -- "$TB" train --runs-dir "$runs" --batch-size 0
expect 2 "--lr -1: expected a number from 0" -- "$TB" train --runs-dir "$runs" --lr -1
expect 2 "--optimizer rmsprop: expected one of sgd\|sgd-nesterov" -- "$TB" train --runs-dir "$runs" --optimizer rmsprop
expect 2 "unknown model 'resnet19'" -- "$TB" train --runs-dir "$runs" --model resnet19
expect 2 "unknown option '--batchsize'; did you mean '--batch-size'" -- "$TB" train --runs-dir "$runs" --batchsize 4
expect 2 "--epochs needs a value" -- "$TB" train --runs-dir "$runs" --epochs
expect 2 "--num-workers -1" -- "$TB" train --runs-dir "$runs" --num-workers -1
expect 2 "--no-batch-norm=maybe: expected true or false" -- "$TB" train --runs-dir "$runs" --no-batch-norm=maybe
expect 2 "--device gpu: expected one of cpu\|cuda" -- "$TB" train --runs-dir "$runs" --device gpu
expect 2 "--device cuda" -- "$TB" train --runs-dir "$runs" --device cuda
expect 2 "--precision tf32: the CPU backend computes in fp32 or bf16" -- "$TB" train --runs-dir "$runs" --precision tf32
# bf16 on the CPU (issue 15): it trains, and result.json says how bf16 was computed, both ways.
for impl in emulate onednn; do
  TB_CPU_BF16=$impl "$TB" train --dataset synthetic --model resnet18-cifar:w4 --limit-train 64 --limit-test 32 \
    --batch-size 32 --epochs 1 --threads 1 --quiet --precision bf16 --run-dir "$tmp/bf16-$impl" >"$tmp/bf16.log" 2>&1 ||
    bad "bf16 train ($impl): $(cat "$tmp/bf16.log")"
  python3 - "$tmp/bf16-$impl/result.json" "$impl" <<'PY' && ok || bad "bf16 result.json ($impl)"
import json, math, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "completed" and r["config"]["precision"] == "bf16", r["status"]
m = r["bf16_math"]
assert m.startswith("emulated") if sys.argv[2] == "emulate" else m in ("onednn-bf16", "mixed") or m.startswith(("emulated", "mixed")), m
assert all(math.isfinite(e["train_loss"]) for e in r["epochs"]), r["epochs"]
PY
done
lines=$("$TB" train --runs-dir "$runs" --batch-size 0 2>&1 | wc -l)
[ "$lines" -eq 1 ] && ok || bad "bad flag message is $lines lines, want 1"
[ ! -e "$runs" ] && ok || bad "a rejected command created $runs"

# --- a tiny run, with the lab's spellings ------------------------------------
run="$tmp/run1"
expect 0 "Number of trainable parameters" -- "$TB" train --dataset synthetic --model resnet18-cifar:w4 \
  --limit-train 96 --limit-test 40 --batch-size 32 --epochs 2 --num-of-workers=1 --no-batch-norm=true \
  --dataset-path=/unused --run-dir "$run" --threads 2
for f in config.json events.jsonl result.json checkpoint.safetensors checkpoint.json; do
  [ -s "$run/$f" ] && ok || bad "run directory lacks $f"
done
[ -z "$(ls "$run" | grep -v -E '^(config.json|events.jsonl|result.json|checkpoint.safetensors|checkpoint.json)$')" ] &&
  ok || bad "stray files: $(ls "$run")"
python3 - "$run" <<'PY' && ok || bad "run directory content"
import json, sys
d = sys.argv[1]
r = json.load(open(f"{d}/result.json"))
assert r["schema"] == "trainbench.result/1", r["schema"]
assert r["status"] == "completed", r["status"]
assert r["config"]["batch_norm"] is False and r["config"]["num_workers"] == 1
assert r["model"]["params"] > 0 and r["model"]["name"] == "resnet18-cifar:w4"
assert r["dataset"]["train_images"] == 96 and r["dataset"]["test_images"] == 40
assert "onednn" in r["system"]["libraries"]
eps = r["epochs"]
assert [e["epoch"] for e in eps] == [1, 2]
assert eps[0]["warmup"] is True and eps[1]["warmup"] is False
keys = "epoch load_s train_s epoch_s train_loss train_acc test_loss test_acc test_acc5 class_acc images_per_s warmup".split()
for e in eps:
    for k in keys:
        assert k in e, k
    assert len(e["class_acc"]) == 10
    assert 0 <= e["test_acc"] <= e["test_acc5"] <= 100
    assert e["load_s"] + e["train_s"] <= e["epoch_s"] * 1.001
    assert e["images"] == 96
events = [json.loads(l) for l in open(f"{d}/events.jsonl")]
kinds = [e["event"] for e in events]
assert kinds[0] == "run_start" and kinds[-1] == "run_end", kinds
assert kinds.count("epoch_start") == 2 and kinds.count("epoch_end") == 2, kinds
assert "progress" in kinds
assert all("time" in e and "elapsed" in e for e in events)
assert events[-1]["status"] == "completed"
c = json.load(open(f"{d}/config.json"))
assert c["epochs"] == 2 and c["dataset"] == "synthetic"
PY
# A run directory with results is never overwritten.
expect 1 "result.json" -- "$TB" train --dataset synthetic --limit-train 32 --limit-test 32 --epochs 1 \
  --model resnet18-cifar:w2 --run-dir "$run"

# --- missing and corrupt data: exit 1, message names the file, failed result --
run="$tmp/run-missing"
expect 1 "data_batch_1.bin|/nonexistent" -- "$TB" train --dataset cifar10 --data-dir /nonexistent --run-dir "$run"
[ "$(json "$run/result.json" "d['status']")" = "failed" ] && ok || bad "missing data: result status"
grep -q '"event":"error"' "$run/events.jsonl" && ok || bad "missing data: no error event"

if [ -d /usr/share/datasets/fashion-mnist ]; then
  mkdir -p "$tmp/fm"
  cp /usr/share/datasets/fashion-mnist/*.gz "$tmp/fm/"
  gunzip -c "$tmp/fm/train-images-idx3-ubyte.gz" | head -c 100000 >"$tmp/fm/train-images-idx3-ubyte"
  rm "$tmp/fm/train-images-idx3-ubyte.gz"
  run="$tmp/run-corrupt"
  expect 1 "train-images-idx3-ubyte.*truncated" -- "$TB" train --dataset fashion-mnist --data-dir "$tmp/fm" \
    --run-dir "$run"
  [ "$(json "$run/result.json" "d['status']")" = "failed" ] && ok || bad "corrupt data: result status"
fi

# --- memory exhaustion is reported, not crashed on ---------------------------
# (AddressSanitizer reserves terabytes of shadow memory, so no ulimit there.)
if ! ldd "$TB" | grep -q libasan; then
  run="$tmp/run-oom"
  expect 1 "out of memory.*--batch-size" -- bash -c "ulimit -v 3000000; exec '$TB' train --dataset synthetic \
    --limit-train 64 --limit-test 64 --batch-size 60000 --model resnet18-cifar --run-dir '$run' --threads 1"
  [ "$(json "$run/result.json" "d['status']")" = "failed" ] && ok || bad "oom: result status"
fi

# --- SIGINT stops at a batch boundary and keeps what finished ----------------
run="$tmp/run-int"
"$TB" train --dataset synthetic --limit-train 2000 --limit-test 64 --batch-size 16 --epochs 50 \
  --model resnet18-cifar:w4 --run-dir "$run" --threads 1 --quiet >/dev/null 2>&1 &
pid=$!
for _ in $(seq 600); do
  grep -q '"event":"epoch_end"' "$run/events.jsonl" 2>/dev/null && break
  sleep 0.1
done
kill -INT $pid
wait $pid
status=$?
[ $status -eq 130 ] && ok || bad "SIGINT exit status $status, want 130"
python3 - "$run" <<'PY' && ok || bad "interrupted result"
import json, sys
r = json.load(open(sys.argv[1] + "/result.json"))
assert r["status"] == "interrupted", r["status"]
assert len(r["epochs"]) >= 1
PY

# --- issue 16: a run directory belongs to one process; the user's folders stay theirs
tiny=(--dataset synthetic --limit-train 32 --limit-test 32 --epochs 1 --model resnet18-cifar:w2 --threads 1 --quiet)
# A non-empty folder that is not a run: exit 2, nothing in it written or followed.
mine="$tmp/mine"
mkdir -p "$mine"
echo '{"mine": true}' >"$mine/config.json"
echo precious >"$mine/weights.safetensors"
echo target >"$tmp/target"
ln -s "$tmp/target" "$mine/events.jsonl"
snapshot() {
  (cd "$mine" && find . -printf '%p %y %s %T@\n' | sort && md5sum config.json weights.safetensors "$tmp/target")
}
before=$(snapshot)
expect 2 "run directory $mine is not empty .*not a trainbench run" -- "$TB" train "${tiny[@]}" --run-dir "$mine"
[ "$(snapshot)" = "$before" ] && ok || bad "a refused --run-dir changed: $(snapshot)"
# A second process on a running run's directory: exit 2, naming the holder;
# the first keeps the directory to itself.
lockruns="$tmp/lockruns"
busy="$lockruns/busy"
"$TB" train --dataset synthetic --limit-train 4000 --limit-test 32 --batch-size 16 --epochs 50 \
  --model resnet18-cifar:w4 --run-dir "$busy" --threads 1 --quiet >/dev/null 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q '"event":"run_start"' "$busy/events.jsonl" 2>/dev/null && break; sleep 0.1; done
expect 2 "run directory $busy is in use by process $pid on $(uname -n)" -- "$TB" train "${tiny[@]}" --run-dir "$busy"
check "\"$TB\" results --runs-dir '$lockruns' | grep -q ' running .*busy'" \
  "results while the run holds its lock: $("$TB" results --runs-dir "$lockruns" 2>&1)"
# Killed outright, its result.json still says running: readers show it stale.
kill -9 $pid
wait $pid 2>/dev/null
check "[ \"\$(grep -c '\"event\":\"run_start\"' '$busy/events.jsonl')\" -eq 1 ]" \
  "a second process wrote into the run's events: $(grep -c run_start "$busy/events.jsonl")"
check "[ \"\$(json '$busy/result.json' \"d['status']\")\" = running ]" "the killed run's result.json: not running"
check "\"$TB\" results --runs-dir '$lockruns' | grep -q ' stale .*busy'" \
  "results after kill -9: $("$TB" results --runs-dir "$lockruns" 2>&1)"
check "\"$TB\" results --runs-dir '$lockruns' --json | grep -qE '\"status\": ?\"stale\"'" \
  "results --json after kill -9: $("$TB" results --runs-dir "$lockruns" --json 2>&1)"

# --- issue 15: synthetic data honours --image-size (default 32) --------------
# The GPU benchmarks train ResNet-50 on synthetic data at 224x224; the data
# must really be that size, and result.json's model input must say so.
# (Needs engine/trainer.c to load with tb_dataset_load_sized(..., c->image_size, ...).)
sized=(--dataset synthetic --model resnet18-cifar:w8 --limit-train 64 --limit-test 32 --epochs 1 --batch-size 32
  --threads 2 --quiet --no-checkpoint)
expect 0 "" -- "$TB" train "${sized[@]}" --image-size 48 --run-dir "$tmp/syn48"
check "[ \"\$(json '$tmp/syn48/result.json' \"d['model']['input']\")\" = '[3, 48, 48]' ]" \
  "--image-size 48 on synthetic: model input $(json "$tmp/syn48/result.json" "d['model']['input']" 2>&1)"
expect 0 "" -- "$TB" train "${sized[@]}" --run-dir "$tmp/syn32"
check "[ \"\$(json '$tmp/syn32/result.json' \"d['model']['input']\")\" = '[3, 32, 32]' ]" \
  "synthetic without --image-size: model input $(json "$tmp/syn32/result.json" "d['model']['input']" 2>&1)"
expect 1 "image size 2000; use --image-size 8 to 1024" -- "$TB" train "${sized[@]}" --image-size 2000 \
  --run-dir "$tmp/syn2000"

# --- issue 16: predict refuses non-finite input; JSON stays JSON -------------
for v in nan NaN inf -inf 0 -1 1e-400; do
  expect 2 "--step-time $v: expected a number from" -- "$TB" predict --step-time "$v" --batch 128 --grad-bytes 1000 --json
done
expect 2 "--overlap nan: expected" -- "$TB" predict --step-time 0.04 --batch 128 --grad-bytes 1000 --overlap nan --json
"$TB" predict --step-time 0.04 --batch 128 --grad-bytes 44695848 --json >"$tmp/predict.json" \
  && python3 -c "import json, sys; assert len(json.load(open(sys.argv[1]))) == 8" "$tmp/predict.json" && ok \
  || bad "predict --json: $(cat "$tmp/predict.json")"
# Invalid UTF-8 never reaches a JSON file: refused where it enters.
bad8=$(printf 'x\377')
expect 2 "--run-dir: the value is not valid UTF-8" -- "$TB" train "${tiny[@]}" --run-dir "$tmp/$bad8"
check "[ ! -e '$tmp/$bad8' ]" "a refused --run-dir was created"
expect 2 "--data-dir: the value is not valid UTF-8" -- "$TB" train "${tiny[@]}" --dataset-path "$tmp/$bad8"
expect 2 "--runs-dir: the value is not valid UTF-8" -- "$TB" run lab2-c3-workers --runs-dir "$tmp/$bad8" --dry-run
expect 2 "--sweep-dir: the value is not valid UTF-8" -- "$TB" run lab2-c3-workers --sweep-dir "$tmp/$bad8"
# Folders and files made by others: results --json escapes, and stays valid.
mkdir -p "$tmp/utf8runs/$bad8"
printf '{"status":"completed","config":{"model":"m\376"}}' >"$tmp/utf8runs/$bad8/result.json"
"$TB" results --runs-dir "$tmp/utf8runs" --json >"$tmp/utf8.json" 2>&1
python3 - "$tmp/utf8.json" <<'PY' && ok || bad "results --json with non-UTF-8 names: $(cat -v "$tmp/utf8.json")"
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))  # strict: fails on invalid UTF-8
(e,) = d["entries"]
assert e["model"] == "m\\xfe" and e["path"].endswith("/x\\xff"), e
PY
# Every refusal says why (an empty value said "unknown error").
expect 2 '--runs-dir "": expected a non-empty value' -- "$TB" results --runs-dir ""
expect 2 '--runs-dir "": expected a non-empty value' -- "$TB" results --runs-dir=
expect 2 '--runs-dir "": expected a non-empty value' -- "$TB" run lab2-c3-workers --runs-dir ""
expect 2 '--sweep-dir "": expected a non-empty value' -- "$TB" run lab2-c3-workers --sweep-dir ""
expect 2 '--set "": expected a non-empty value' -- "$TB" run lab2-c3-workers --set ""
expect 2 '-o "": expected a non-empty value' -- "$TB" export -o "" "$tmp"

# Numbers (issue 16): digits and a leading '-' only (floats also a decimal
# point and an exponent); strtol's leading spaces, '+', hex and inf/nan are
# refused, and --seed ' -1' no longer wraps to 2^64-1.  Refused at parse
# time: exit 2, no run directory.
for bad_num in "--seed= -1" "--seed=-1" "--seed=+5" "--seed=0x10" "--seed= 7" "--epochs=+2" "--epochs=0x2" \
               "--epochs= 2" "--epochs=2 " "--batch-size=1e2" "--lr=0x1p-3" "--lr=+0.1" "--lr= 0.1" "--lr=inf" \
               "--lr=nan" "--lr=1e" "--lr=." "--lr=-" "--momentum=0.9x"; do
  expect 2 "expected (an integer|a non-negative integer|a number)" -- "$TB" train "${tiny[@]}" "$bad_num" \
    --run-dir "$tmp/badnum"
done
check "[ ! -e '$tmp/badnum' ]" "a refused number created the run directory"
for good_num in "--lr=0.05" "--lr=5e-2" "--lr=.05" "--lr=5.E-2" "--seed=18446744073709551615" "--epochs=1"; do
  "$TB" train "${tiny[@]}" "$good_num" --run-dir "$tmp/goodnum" --help >/dev/null 2>&1 && ok ||
    bad "$good_num refused: $("$TB" train "${tiny[@]}" "$good_num" --help 2>&1 | tail -1)"
done
# --image-size below the loader's floor of 8 is refused before the run
# directory exists (it failed at run time after creating one).
for size in 1 7; do
  expect 2 "--image-size $size: crops must be 8 pixels or more" -- "$TB" train "${tiny[@]}" --dataset imagenet \
    --image-size "$size" --run-dir "$tmp/imgsize"
  expect 2 "--image-size $size" -- "$TB" train "${tiny[@]}" --image-size "$size" --run-dir "$tmp/imgsize"
done
check "[ ! -e '$tmp/imgsize' ]" "a refused --image-size created the run directory"

# A preset (or --set) may not choose a file for the run to write: --profile
# belongs to one invocation (issue 16).
printf '[preset]\ntitle = t\nlab = test\nquestion = q?\n[run]\ndataset = synthetic\nprofile = %s/victim\n[sweep]\nnum_workers = 0, 1\n' \
  "$tmp" >"$tmp/profile.ini"
out=$("$TB" run "$tmp/profile.ini" --runs-dir "$tmp/profruns" 2>&1); rc=$?
check "[ $rc -eq 2 ] && grep -q 'profile: not allowed in a preset' <<<\"\$out\"" "preset setting profile: exit $rc: $out"
out=$("$TB" run quickstart --set "profile=$tmp/victim" --runs-dir "$tmp/profruns" 2>&1); rc=$?
check "[ $rc -eq 2 ] && grep -q 'profile: not allowed in a preset' <<<\"\$out\"" "--set profile: exit $rc: $out"
check "[ ! -e '$tmp/victim' ] && [ ! -e '$tmp/profruns' ]" "a refused preset wrote something"

echo "$((checks - fails)) of $checks checks passed"
[ $fails -eq 0 ]
