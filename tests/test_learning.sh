#!/usr/bin/env bash
# Learning on real data: a narrow ResNet-18 trained on a Fashion-MNIST subset
# must reach at least 85% top-1 on the full 10,000-image test set.
set -u
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
data=/usr/share/datasets/fashion-mnist
if [ ! -f "$data/t10k-images-idx3-ubyte.gz" ]; then
  echo "skipped: $data not found (apt-get install dataset-fashion-mnist)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$TB" train --dataset fashion-mnist --model resnet18-cifar:w8 --limit-train 40000 --epochs 4 \
  --batch-size 64 --lr 0.05 --lr-schedule cosine --num-workers 1 --seed 3 --run-dir "$tmp/run" || exit 1
python3 - "$tmp/run/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
last = r["epochs"][-1]
assert r["dataset"]["test_images"] == 10000, r["dataset"]
print(f"test accuracy {last['test_acc']:.2f}% after {len(r['epochs'])} epochs, {r['summary']['wall_s']:.0f} s")
sys.exit(0 if last["test_acc"] >= 85.0 else 1)
PY
