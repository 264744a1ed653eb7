#!/usr/bin/env bash
# The baseline for `trainbench data imagenet`: the two-pass way of the lab's
# extract_ILSVRC.sh (pytorch/examples): extract the outer train tar, then for
# each class tar mkdir + tar -xf + rm; extract the val tar and run
# valprep.sh.  Unlike the original it leaves the input tars in place.
#   extract_ilsvrc_twopass.sh TRAIN_TAR VAL_TAR VALPREP OUT
set -euo pipefail
train=$(realpath "$1") val=$(realpath "$2") valprep=$(realpath "$3") out=$4
mkdir -p "$out/train" "$out/val"
cd "$out/train"
tar -xf "$train"
find . -name "*.tar" | while read -r NAME; do
  mkdir -p "${NAME%.tar}"
  tar -xf "${NAME}" -C "${NAME%.tar}"
  rm -f "${NAME}"
done
cd ../val
tar -xf "$val"
bash "$valprep" >/dev/null
