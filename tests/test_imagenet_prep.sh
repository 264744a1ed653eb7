#!/usr/bin/env bash
# `trainbench data imagenet` on a synthetic ILSVRC layout of a few classes:
# counts, folder names, validation labels, resuming, bad archives; then
# `data pack` and a short training run on the folders and on the pack.
set -u
. "$(dirname "$0")/lib.sh"
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

S="$tmp/syn"
expect 0 "4 classes x 6 images.*12 images" -- "$TB" data synth imagenet --out "$S" --classes 4 --per-class 6 --val-per-class 3
TRAIN="$S/ILSVRC2012_img_train.tar"
VAL="$S/ILSVRC2012_img_val.tar"
wnids=$(tar tf "$TRAIN" | sed 's/\.tar$//' | sort | tr '\n' ' ')
check '[ "$(echo $wnids | wc -w)" = 4 ]' "synthetic train tar: $wnids"
# Realistic sizes: JPEGs of about 500x375 (the SOF0 marker holds h, w).
first=$(tar xOf "$TRAIN" "$(echo $wnids | cut -d' ' -f1).tar" | tar t | head -1)
check 'tar xOf "$TRAIN" "$(echo $wnids | cut -d" " -f1).tar" | tar xO "$first" | python3 -c "
import sys; d = sys.stdin.buffer.read(); i = d.index(b\"\xff\xc0\"); h = d[i+5]*256+d[i+6]; w = d[i+7]*256+d[i+8]
sys.exit(0 if 300 <= w <= 500 and 300 <= h <= 500 and len(set(d[i+20:i+2000])) > 50 else 1)"' "synthetic JPEG not about 500x375 or blank"

O="$tmp/out"
expect 0 "train: 4 classes \(4 done now, 0 kept.*24 images" -- "$TB" data imagenet --train-tar "$TRAIN" --val-tar "$VAL" --valprep "$S/valprep.sh" --out "$O" --threads 3
check '[ "$(ls "$O/train" | tr "\n" " ")" = "$wnids" ]' "train class folders: $(ls "$O/train")"
for w in $wnids; do
  check '[ "$(ls "$O/train/$w" | wc -l)" = 6 ] && [ -z "$(ls "$O/train/$w" | grep -v "^${w}_.*\.JPEG$")" ]' "class $w"
  check 'cmp -s <(tar xOf "$TRAIN" "$w.tar" | tar xO "${w}_10003.JPEG") "$O/train/$w/${w}_10003.JPEG"' "$w bytes differ"
done
check '[ "$(find "$O/val" -type f | wc -l)" = 12 ]' "val count"
# Every validation image sits in the folder valprep.sh names for it.
while read -r _ file dir; do
  check '[ -f "$O/val/${dir%/}/$file" ]' "val $file not in $dir"
done < <(grep '^mv ' "$S/valprep.sh")
check '[ -z "$(ls -A "$O" | grep partial)" ] && [ -z "$(ls -A "$O/train" | grep partial)" ]' "partial folders left"

# --devkit: the labels from the devkit's ground truth + meta.mat (MAT v5)
# sort the images exactly as valprep.sh does; also with meta.mat's struct
# zlib-compressed (miCOMPRESSED, what MATLAB writes by default).
DK="$S/ILSVRC2012_devkit_t12.tar.gz"
GT=ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt
MM=ILSVRC2012_devkit_t12/data/meta.mat
expect 0 "val: 12 images" -- "$TB" data imagenet --val-tar "$VAL" --devkit "$DK" --out "$tmp/dk1"
check 'diff -r "$O/val" "$tmp/dk1/val" >/dev/null' "--devkit and --valprep sort the validation images differently"
# devkit.py DEST MODE: rewrites the synthetic devkit with meta.mat changed.
cat >"$tmp/devkit.py" <<'PY'
import io, struct, sys, tarfile, zlib
src, dest, mode = sys.argv[1:4]
with tarfile.open(src) as t:
    files = [(m.name, t.extractfile(m).read()) for m in t.getmembers() if m.isfile()]
def change(name, data):
    if not name.endswith("meta.mat"):
        return data
    if mode == "compressed":  # the 128-byte header, then one miCOMPRESSED element
        z = zlib.compress(data[128:])
        return data[:128] + struct.pack("<II", 15, len(z)) + z
    if mode == "truncated":
        return data[:len(data) // 2]
    if mode == "badzlib":
        z = bytearray(zlib.compress(data[128:])); z[len(z) // 2] ^= 0xff
        return data[:128] + struct.pack("<II", 15, len(z)) + bytes(z)
    if mode == "version":
        return data[:124] + b"\x00\x02IM" + data[128:]
    if mode == "hugedims":  # the struct claims 2^30 elements
        i = data.index(b"synsets") - 16
        return data[:i] + struct.pack("<i", 1 << 30) + data[i + 4:]
    raise SystemExit("mode?")
with tarfile.open(dest, "w:gz") as t:
    for name, data in files:
        data = change(name, data)
        i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
PY
python3 "$tmp/devkit.py" "$DK" "$tmp/dk-z.tar.gz" compressed
expect 0 "val: 12 images" -- "$TB" data imagenet --val-tar "$VAL" --devkit "$tmp/dk-z.tar.gz" --out "$tmp/dk2"
check 'diff -r "$O/val" "$tmp/dk2/val" >/dev/null' "--devkit with a compressed meta.mat sorts differently"
for m in truncated badzlib version hugedims; do
  python3 "$tmp/devkit.py" "$DK" "$tmp/dk-$m.tar.gz" $m
done
expect 1 "meta.mat: malformed MAT file: .*offset [0-9]+" -- "$TB" data imagenet --val-tar "$VAL" --devkit "$tmp/dk-truncated.tar.gz" --out "$tmp/dk3"
check '[ ! -e "$tmp/dk3/val" ]' "a refused devkit left val/"
expect 1 "meta.mat: malformed MAT file: a compressed element is not valid zlib data" -- "$TB" data imagenet --val-tar "$VAL" --devkit "$tmp/dk-badzlib.tar.gz" --out "$tmp/dk4"
expect 1 "MAT file version 0x0200 at offset 124" -- "$TB" data imagenet --val-tar "$VAL" --devkit "$tmp/dk-version.tar.gz" --out "$tmp/dk5"
expect 1 "more elements than its data can hold" -- "$TB" data imagenet --val-tar "$VAL" --devkit "$tmp/dk-hugedims.tar.gz" --out "$tmp/dk6"
expect 1 "has no ILSVRC2012_devkit_t12/data/.*is it ILSVRC2012_devkit_t12.tar.gz" -- "$TB" data imagenet --val-tar "$VAL" --devkit "$TRAIN" --out "$tmp/dk7"

# Resuming: finished classes are skipped; a class cut off halfway is redone.
expect 0 "0 done now, 4 kept.*24 images" -- "$TB" data imagenet --train-tar "$TRAIN" --out "$O"
w1=$(echo $wnids | cut -d' ' -f2)
mv "$O/train/$w1" "$O/train/.$w1.partial" && rm "$O/train/.$w1.partial/${w1}_10001.JPEG"
expect 0 "1 done now, 3 kept.*24 images" -- "$TB" data imagenet --train-tar "$TRAIN" --out "$O"
check '[ "$(ls "$O/train/$w1" | wc -l)" = 6 ] && [ ! -e "$O/train/.$w1.partial" ]' "the cut-off class was not redone"

# Bad input.
head -c 300000 "$TRAIN" >"$tmp/trunc.tar"
expect 1 "truncated" -- "$TB" data imagenet --train-tar "$tmp/trunc.tar" --out "$tmp/o2"
expect 1 "checksum mismatch.*expected 1d675b47d978889d74fa0da5fadfb00e" -- "$TB" data imagenet --train-tar "$TRAIN" --out "$tmp/o3" --verify
check '[ ! -e "$tmp/o3/train" ]' "--verify failure still extracted"
expect 2 "exactly one of --devkit F and --valprep F" -- "$TB" data imagenet --val-tar "$VAL" --out "$tmp/o4"
sed '$d' "$S/valprep.sh" >"$tmp/short.sh"
expect 1 "has no label in" -- "$TB" data imagenet --val-tar "$VAL" --valprep "$tmp/short.sh" --out "$tmp/o5"
check '[ ! -e "$tmp/o5/val" ]' "a failed validation pass left val/"
python3 - "$tmp" <<'PY'
import io, sys, tarfile
tmp = sys.argv[1]
def inner(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for name, data in entries:
            i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
    return b.getvalue()
def outer(path, classes):
    with tarfile.open(path, "w") as t:
        for name, data in classes:
            i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
outer(f"{tmp}/corrupt.tar", [("n00000001.tar", inner([("a.JPEG", b"\xff\xd8not a jpeg at all"), ]))])
outer(f"{tmp}/evil.tar", [("n00000002.tar", inner([("../../evil.JPEG", b"\xff\xd8x")]))])
PY
expect 0 "skipped 1 corrupt JPEG" -- "$TB" data imagenet --train-tar "$tmp/corrupt.tar" --out "$tmp/o6"
expect 1 "'a.JPEG' is not a readable JPEG" -- "$TB" data imagenet --train-tar "$tmp/corrupt.tar" --out "$tmp/o7" --strict
expect 1 "'../../evil.JPEG' has a '..' component" -- "$TB" data imagenet --train-tar "$tmp/evil.tar" --out "$tmp/o8/x"
check '[ ! -e "$tmp/o8/evil.JPEG" ] && [ ! -e "$tmp/evil.JPEG" ]' "path traversal wrote outside"

# Pack, then train a few steps on the folders and on the pack.
expect 0 "JPEG, 24 train \+ 12 test images, 4 classes" -- "$TB" data pack "$O" --out "$tmp/in.tbpack" --max-side 200
for ds in imagenet "packed:$tmp/in.tbpack"; do
  expect 0 "top-5" -- "$TB" train --dataset "$ds" --data-dir "$O" --model resnet18:w4 --image-size 32 --epochs 1 \
    --batch-size 8 --num-workers 2 --runs-dir "$tmp/runs"
done
check 'grep -q "\"image_size\": *32" "$tmp"/runs/*/config.json' "image_size not recorded"
expect 2 "--dataset packed:: expected one of" -- "$TB" train --dataset packed: --runs-dir "$tmp/runs"

# --verify's mismatch message suggests --checksum md5:HEX for a repackaged
# archive; `data imagenet` accepts it (issue 17): the tar's own sum passes,
# another is a mismatch, and with both tars the flag names which one.
sum=$(md5sum "$TRAIN" | cut -d' ' -f1)
vsum=$(md5sum "$VAL" | cut -d' ' -f1)
expect 0 "given checksums" -- "$TB" data imagenet --train-tar "$TRAIN" --out "$tmp/ck-o6" --verify --checksum "md5:$sum"
check '[ "$(ls "$tmp/ck-o6/train" | wc -l)" = "$(ls "$O/train" | wc -l)" ]' \
  "--checksum md5:HEX (the right one) did not extract"
expect 1 "checksum mismatch: got $sum, expected 00000000000000000000000000000000" -- \
  "$TB" data imagenet --train-tar "$TRAIN" --out "$tmp/ck-o7" --checksum md5:00000000000000000000000000000000
check '[ ! -e "$tmp/ck-o7/train" ]' "a --checksum mismatch still extracted"
expect 2 "say which: --checksum train=md5:$sum or val=" -- "$TB" data imagenet --train-tar "$TRAIN" --val-tar "$VAL" \
  --valprep "$S/valprep.sh" --out "$tmp/ck-o8" --checksum "md5:$sum"
expect 0 "val: 12 images" -- "$TB" data imagenet --train-tar "$TRAIN" --val-tar "$VAL" --valprep "$S/valprep.sh" \
  --out "$tmp/ck-o8" --verify --checksum "train=md5:$sum" --checksum "val=md5:$vsum"
expect 1 "with both tars name the one: --checksum train=" -- "$TB" data imagenet --train-tar "$TRAIN" --val-tar "$VAL" \
  --valprep "$S/valprep.sh" --out "$tmp/ck-o9" --verify --checksum "train=md5:$sum"
expect 2 "a md5 digest has 32 hex digits" -- "$TB" data imagenet --train-tar "$TRAIN" --out "$tmp/ck-o10" \
  --checksum md5:xyz

echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
