#!/usr/bin/env bash
# Issue 17: trainbench eval (a run's weights on its test set, independent of
# the batch size), the loss over partial batches, --average-skip, the lab's
# closing lines of `train`, and the table footnote that says what was
# averaged.  Tiny runs: a 4-wide ResNet-18, 32 training and 50 test images.
set -u
. "$(dirname "$0")/lib.sh"
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tiny=(--dataset synthetic --model resnet18-cifar:w4 --limit-train 32 --limit-test 50 --batch-size 16 --lr 0.02
        --num-workers 1 --threads 2)

# --- three 3-epoch runs, --average-skip 0, 1 (the default) and 2 --------------
for k in 0 1 2; do
  skip=(--average-skip "$k")
  [ "$k" = 1 ] && skip=()
  "$TB" train "${tiny[@]}" --epochs 3 "${skip[@]}" --run-dir "$tmp/s$k" >"$tmp/s$k.out" 2>&1 \
    || bad "3-epoch run with --average-skip $k: $(cat "$tmp/s$k.out")"
done
python3 - "$tmp" <<'PY' && ok || bad "--average-skip 0/1/2 averages"
import json, sys
tmp = sys.argv[1]
for k in (0, 1, 2):
    d = json.load(open(f"{tmp}/s{k}/result.json"))
    eps, s = d["epochs"], d["summary"]
    assert d["config"]["average_skip"] == k, d["config"]
    assert len(eps) == 3
    kept = eps[k:]
    for key, sk in (("load_s", "avg_load_s"), ("train_s", "avg_train_s"), ("epoch_s", "avg_epoch_s")):
        want = sum(e[key] for e in kept) / len(kept)
        assert abs(s[sk] - want) <= 1e-8 * max(abs(want), 1e-12), (k, key, s[sk], want)
    # images/s has one definition (rundir/derived.h): the kept epochs' images over their epoch time.
    want = sum(e["images"] for e in kept) / sum(e["epoch_s"] for e in kept)
    assert abs(s["images_per_s"] - want) <= 1e-8 * want, (k, s["images_per_s"], want)
    assert s["epochs_averaged"] == 3 - k and s["warmup_epochs_excluded"] == k, (k, s)
    assert [e["warmup"] for e in eps] == [i < k for i in range(3)], (k, [e["warmup"] for e in eps])
    # The three runs are the same training: only what is averaged differs.
    if k:
        d0 = json.load(open(f"{tmp}/s0/result.json"))
        assert [e["test_loss"] for e in eps] == [e["test_loss"] for e in d0["epochs"]]
# Different epochs averaged, different averages (epoch times never all agree to 1e-9).
a = [json.load(open(f"{tmp}/s{k}/result.json"))["summary"]["avg_train_s"] for k in (0, 1, 2)]
assert len(set(a)) == 3, a
PY
grep -q "^\* left out of the averages (--average-skip 2)" "$tmp/s2.out" && ok ||
  bad "skip 2 summary: $(cat "$tmp/s2.out")"
grep -q "^   1\* " "$tmp/s2.out" && grep -q "^   2\* " "$tmp/s2.out" && grep -q "^   3  " "$tmp/s2.out" && ok ||
  bad "skip 2: epochs 1 and 2 marked: $(cat "$tmp/s2.out")"
! grep -q "left out of the averages" "$tmp/s0.out" && ok || bad "skip 0 claims epochs left out: $(cat "$tmp/s0.out")"
expect 2 "--average-skip -1: expected an integer from 0" -- "$TB" train --average-skip -1 --runs-dir "$tmp/no"

# --- the lab's closing lines: per-class list and gradient count ---------------
python3 - "$tmp/s1" "$tmp/s1.out" <<'PY' && ok || bad "lab lines of train: $(cat "$tmp/s1.out")"
import json, re, sys
d = json.load(open(sys.argv[1] + "/result.json"))
out = open(sys.argv[2]).read()
m = re.search(r"^Number of gradients : (\d+)$", out, re.M)
assert m and int(m.group(1)) == d["model"]["gradients"] == 44622, m
last = d["epochs"][-1]
m = re.search(r"^Top 1 accuracy is (\d+) among the individual label accuracies \[([^\]]*)\]$", out, re.M)
assert m and int(m.group(1)) == last["best_class"], m
vals = m.group(2).split(" ")
assert len(vals) == len(last["class_acc"]) == 10, vals
for v, want in zip(vals, last["class_acc"]):
    assert not v.endswith("0") or "." not in v, v  # lab2.py's numpy style: 22. not 22.00
    assert abs(float(v) - want) <= 0.005 + 1e-9, (v, want)
# lab2.py's order: the per-class list, the gradient count, then the averages.
assert out.index("Top 1 accuracy") < out.index("Number of gradients") < out.index("Avg data load time")
PY

# --- eval: the run's final test figures, whatever the batch size -------------
run="$tmp/s1"
find "$run" -type f -exec sha256sum {} + | sort >"$tmp/before.sum"
for bs in 7 64 1000; do
  "$TB" eval "$run" --batch-size "$bs" --json >"$tmp/e$bs.json" 2>"$tmp/e$bs.err" ||
    bad "eval --batch-size $bs: $(cat "$tmp/e$bs.err")"
done
"$TB" eval "$run" --json >"$tmp/e.json" 2>&1 || bad "eval: $(cat "$tmp/e.json")"
find "$run" -type f -exec sha256sum {} + | sort >"$tmp/after.sum"
cmp -s "$tmp/before.sum" "$tmp/after.sum" && [ "$(ls -A "$run" | wc -l)" -eq "$(wc -l <"$tmp/before.sum")" ] && ok ||
  bad "eval changed the run directory"
# Bounds: at the run's own batch size eval runs the trainer's own loop, so the
# figures equal result.json's (printed to 10 digits); at 7 (50 = 7 x 7 + 1),
# 64 and 1000 only the grouping of the fp32 layers' work changes: loss within
# 1e-5 relative, accuracies exact.
python3 - "$run/result.json" "$tmp" <<'PY' && ok || bad "eval figures"
import json, sys
r = json.load(open(sys.argv[1]))
last = r["epochs"][-1]
e = json.load(open(sys.argv[2] + "/e.json"))
assert e["batch_size"] == 16 and e["images"] == 50 and e["weights"].endswith("checkpoint.safetensors"), e
for k in ("test_loss", "test_acc", "test_acc5"):
    assert abs(e[k] - last[k]) <= 1e-9 * max(abs(last[k]), 1), (k, e[k], last[k])
for bs in (7, 64, 1000):
    o = json.load(open(f"{sys.argv[2]}/e{bs}.json"))
    assert o["batch_size"] == bs
    assert abs(o["test_loss"] - e["test_loss"]) <= 1e-5 * e["test_loss"], (bs, o["test_loss"], e["test_loss"])
    assert (o["test_acc"], o["test_acc5"], o["class_acc"]) == (e["test_acc"], e["test_acc5"], e["class_acc"]), bs
# Per class: one entry per class; class_acc x class_images / 100 is a whole
# count of hits, and the hits and images add up to the top-1 count and the set.
ca, ci = e["class_acc"], e["class_images"]
assert len(ca) == len(ci) == r["dataset"]["classes"] == 10
hits = [a * n / 100 for a, n in zip(ca, ci)]
assert all(abs(h - round(h)) < 1e-9 and 0 <= round(h) <= n for h, n in zip(hits, ci)), hits
assert sum(ci) == e["images"] == r["dataset"]["test_images"]
assert round(sum(hits)) == round(e["test_acc"] * e["images"] / 100), (hits, e["test_acc"])
assert 0 < sum(round(h) for h in hits) < 50, hits  # a learnt, imperfect model: the counts mean something
PY
expect 0 "Test loss [0-9.]+ \| top-1 accuracy [0-9.]+ % \| top-5 accuracy" -- "$TB" eval "$run"
expect 0 "usage: trainbench eval RUN_DIR" -- "$TB" eval --help
expect 0 "eval RUN_DIR" -- "$TB" help

# --- weights.safetensors is preferred when the run saved it -------------------
"$TB" train "${tiny[@]}" --epochs 1 --save-weights --no-checkpoint --run-dir "$tmp/w" --quiet >"$tmp/w.out" 2>&1 ||
  bad "--save-weights run: $(cat "$tmp/w.out")"
"$TB" eval "$tmp/w" --json >"$tmp/w.json" 2>&1 || bad "eval of weights.safetensors: $(cat "$tmp/w.json")"
python3 - "$tmp/w" <<'PY' && ok || bad "eval of weights.safetensors: $(cat "$tmp/w.json")"
import json, sys
e = json.load(open(sys.argv[1] + "/../w.json"))
last = json.load(open(sys.argv[1] + "/result.json"))["epochs"][-1]
assert e["weights"].endswith("weights.safetensors"), e
assert abs(e["test_loss"] - last["test_loss"]) <= 1e-9 * last["test_loss"] and e["test_acc"] == last["test_acc"]
PY

# --- refused: exit 2, one message, nothing written ----------------------------
expect 2 "which run" -- "$TB" eval
expect 2 "no such run directory" -- "$TB" eval "$tmp/none"
mkdir "$tmp/empty"
expect 2 "no config.json: not a trainbench run directory" -- "$TB" eval "$tmp/empty"
mkdir "$tmp/junk" && printf '{"model": ' >"$tmp/junk/config.json"
expect 2 "not a trainbench run directory" -- "$TB" eval "$tmp/junk"
mkdir "$tmp/foreign" && echo '{"learning_rate": 0.1}' >"$tmp/foreign/config.json"
expect 2 "learning_rate" -- "$TB" eval "$tmp/foreign"
mkdir "$tmp/array" && echo '[1, 2]' >"$tmp/array/config.json"
expect 2 "not a JSON object" -- "$TB" eval "$tmp/array"
mkdir "$tmp/noweights" && cp "$run/config.json" "$tmp/noweights/"
expect 2 "neither weights.safetensors nor checkpoint.safetensors" -- "$TB" eval "$tmp/noweights"
mkdir "$tmp/other" && cp "$run/checkpoint.safetensors" "$tmp/other/" &&
  sed 's/resnet18-cifar:w4/resnet18-cifar:w8/' "$run/config.json" >"$tmp/other/config.json"
expect 2 "do not fit the run's model" -- "$TB" eval "$tmp/other"
mkdir "$tmp/cut" && cp "$run/config.json" "$tmp/cut/" &&
  head -c 300 "$run/checkpoint.safetensors" >"$tmp/cut/checkpoint.safetensors"
expect 2 "unreadable" -- "$TB" eval "$tmp/cut"
expect 2 "--batch-size 0: expected an integer" -- "$TB" eval "$run" --batch-size 0
expect 2 "unknown option '--frob'" -- "$TB" eval "$run" --frob
[ "$(ls "$tmp/noweights")" = "config.json" ] && ok || bad "eval wrote into a refused directory: $(ls "$tmp/noweights")"

# --- the table footnote says what was averaged (the runs above) -------------
md=$("$TB" export "$tmp/w" 2>&1)
grep -q "Times are those of each run's only epoch (none was left out of the averages)" <<<"$md" && ok ||
  bad "1-epoch footnote: $md"
! grep -q "after the first" <<<"$md" && ok || bad "a 1-epoch table claims the first epoch was left out: $md"
md=$("$TB" export "$tmp/s0" 2>&1)
grep -q "Times are means over all 3 epochs, the first included" <<<"$md" && ok || bad "skip 0 footnote: $md"
md=$("$TB" export "$tmp/s1" 2>&1)
grep -q "Times are means over the epochs after the first (warm-up) one" <<<"$md" && ok || bad "skip 1 footnote: $md"
md=$("$TB" export "$tmp/s2" 2>&1)
grep -q "Times are means over epochs 3 to 3, the first 2 left out (--average-skip)" <<<"$md" && ok ||
  bad "skip 2 footnote: $md"
# The table's times are the summary's averages: the same epochs.
python3 - "$tmp/s2/result.json" <<PY && ok || bad "skip 2 table time: \$md"
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
row = [l for l in """$md""".splitlines() if l.startswith("| resnet18")][0].split("|")
assert abs(float(row[8]) - s["avg_train_s"]) <= 0.006, (row, s["avg_train_s"])
PY
md=$("$TB" export "$tmp/s0" "$tmp/s2" 2>&1)
grep -q "Times are means over the epochs each run averaged: epochs 1 to 3 in 1 row; epochs 3 to 3 in 1 row" <<<"$md" &&
  ok || bad "mixed footnote: $md"

echo "test_eval: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
