#!/usr/bin/env bash
# Issue 15 end to end on the CPU: synthetic data at --image-size below 32
# trains at that size (result.json's model input says so) instead of being
# padded to 32, and the convolutions are prepared before the first epoch,
# timed apart (result.json "prepare_s", "prepared_convolutions").
set -u
. "$(dirname "$0")/lib.sh"
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

field() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(eval(sys.argv[2])))" "$@"; }

for size in 16 8; do
  "$TB" train --dataset synthetic --model resnet18-cifar:w4 --image-size "$size" --limit-train 40 --limit-test 24 \
    --batch-size 16 --epochs 1 --threads 1 --quiet --run-dir "$tmp/s$size" >"$tmp/out$size" 2>&1 ||
    bad "--image-size $size run failed: $(cat "$tmp/out$size")"
  check '[ "$(field "$tmp/s$size/result.json" "r[\"model\"][\"input\"]")" = "[3, $size, $size]" ]' \
    "--image-size $size: model input $(field "$tmp/s$size/result.json" 'r["model"]["input"]'), want [3, $size, $size]"
  check '[ "$(field "$tmp/s$size/result.json" "r[\"status\"]")" = "\"completed\"" ]' "--image-size $size: not completed"
done
# 40 images in 16s (16 and 8) and 24 test images (16, 8): 32 distinct calls
# per training size, the evaluation's all among them.
check '[ "$(field "$tmp/s16/result.json" "r[\"prepared_convolutions\"]")" = 64 ]' \
  "prepared convolutions: $(field "$tmp/s16/result.json" 'r["prepared_convolutions"]'), want 64"
check '[ "$(field "$tmp/s16/result.json" "isinstance(r[\"prepare_s\"], float) and r[\"prepare_s\"] >= 0")" = true ]' \
  "prepare_s missing or not a number"

# The default stays 32 for synthetic data.
"$TB" train --dataset synthetic --model resnet18-cifar:w4 --limit-train 16 --limit-test 16 --batch-size 16 \
  --epochs 1 --threads 1 --quiet --run-dir "$tmp/def" >"$tmp/outdef" 2>&1 || bad "default run failed: $(cat "$tmp/outdef")"
check '[ "$(field "$tmp/def/result.json" "r[\"model\"][\"input\"]")" = "[3, 32, 32]" ]' "default input is not 32x32"

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
