#!/usr/bin/python3
"""Checks a trainbench --profile trace: Chrome trace-event structure, spans
that nest on every thread, and times that agree with result.json.

usage: check_trace.py TRACE RESULT_JSON [--layers] [--gpu]

--gpu: a CUDA run's trace, whose trainer spans are mirrored on the
"GPU stream" track with the device's times (profile.h)."""
import json
import sys
from collections import defaultdict


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


trace_path, result_path = sys.argv[1], sys.argv[2]
layers = "--layers" in sys.argv
gpu = "--gpu" in sys.argv
with open(trace_path) as f:
    trace = json.load(f)
result = json.load(open(result_path))
events = trace.get("traceEvents")
if not isinstance(events, list) or not events:
    fail("no traceEvents array")
spans = []
names = {}
for e in events:
    for key in ("name", "ph", "pid", "tid"):
        if key not in e:
            fail(f"event without {key}: {e}")
    if e["ph"] == "M":
        if e["name"] == "thread_name":
            names[(e["pid"], e["tid"])] = e["args"]["name"]
        continue
    if e["ph"] != "X":
        fail(f"unexpected phase {e['ph']}")
    if not (isinstance(e["ts"], (int, float)) and e["dur"] >= 0):
        fail(f"bad ts/dur: {e}")
    spans.append(e)

# Spans on one thread nest: each starts after its parent starts and ends
# before it ends (1 us of rounding allowed).
by_thread = defaultdict(list)
for s in spans:
    by_thread[(s["pid"], s["tid"])].append(s)
for key, lst in by_thread.items():
    lst.sort(key=lambda s: (s["ts"], -s["dur"]))
    stack = []
    for s in lst:
        while stack and s["ts"] >= stack[-1]["ts"] + stack[-1]["dur"] - 1.0:
            stack.pop()
        if stack and s["ts"] + s["dur"] > stack[-1]["ts"] + stack[-1]["dur"] + 1.0:
            fail(f"{s['name']} overlaps {stack[-1]['name']} on thread {names.get(key, key)} without nesting")
        stack.append(s)

trainer = [k for k, n in names.items() if n == "trainer"]
if len(trainer) != 1:
    fail(f"want one trainer thread per rank, got {trainer}")
main = by_thread[trainer[0]]
epochs = [s for s in main if s["cat"] == "epoch"]
reports = result["epochs"]
if len(epochs) != len(reports):
    fail(f"{len(epochs)} epoch spans for {len(reports)} epochs in result.json")
for span, rep in zip(epochs, reports):
    t0, t1 = span["ts"], span["ts"] + span["dur"]
    inside = [s for s in main if s["cat"] == "phase" and t0 <= s["ts"] and s["ts"] + s["dur"] <= t1 + 1.0]
    total = sum(s["dur"] for s in inside) * 1e-6
    epoch_s = span["dur"] * 1e-6
    # The phases cover the epoch but for bookkeeping (scoring, progress).
    if not (0.75 * epoch_s <= total <= epoch_s * 1.001):
        fail(f"epoch {rep['epoch']}: phases sum to {total:.4f} s of a {epoch_s:.4f} s epoch span")
    if abs(epoch_s - rep["epoch_s"]) > 0.05 * rep["epoch_s"] + 0.01:
        fail(f"epoch {rep['epoch']}: span {epoch_s:.4f} s, result.json epoch_s {rep['epoch_s']:.4f} s")
    ph = rep.get("phases")
    if not ph:
        fail(f"epoch {rep['epoch']}: no phases in result.json")
    for p in ("forward", "backward", "optimizer"):
        got = sum(s["dur"] for s in inside if s["name"] == p) * 1e-6
        if abs(got - ph[p + "_s"]) > 0.02 * ph[p + "_s"] + 0.002:
            fail(f"epoch {rep['epoch']}: {p} spans {got:.4f} s, result.json {ph[p + '_s']:.4f} s")
    steps = [s for s in main if s["cat"] == "step" and t0 <= s["ts"] <= t1]
    if not steps:
        fail(f"epoch {rep['epoch']}: no step spans")
if layers:
    fwd = [s for s in main if s["cat"] == "layer" and s["name"].startswith("fwd ")]
    bwd = [s for s in main if s["cat"] == "layer" and s["name"].startswith("bwd ")]
    if not fwd or not bwd:
        fail("--profile-layers gave no per-layer spans")
    # Layer spans sit inside the forward/backward phases.
    phases = sorted((s for s in main if s["name"] in ("forward", "backward", "evaluate")), key=lambda s: s["ts"])
    import bisect
    starts = [s["ts"] for s in phases]
    for s in fwd + bwd:
        i = bisect.bisect_right(starts, s["ts"] + 0.5) - 1
        p = phases[i] if i >= 0 else None
        want = "forward" if s["name"].startswith("fwd") else "backward"
        if not p or p["name"] not in (want, "evaluate" if want == "forward" else want) or s["ts"] + s["dur"] > p["ts"] + p["dur"] + 1.0:
            fail(f"layer span {s['name']} outside a {want} phase")
if gpu:
    # Every trainer span has its GPU twin (same name, in order), inside it
    # give or take the anchor's skew: under --profile each phase ends with a
    # device synchronisation, so the device ran the phase within the host's
    # span.
    track = [k for k, n in names.items() if n == "GPU stream"]
    if len(track) != 1:
        fail(f"--gpu: want one GPU stream track, got {track}")
    # Both tracks list spans in the order they ended on the host.
    twins = [s for s in spans if (s["pid"], s["tid"]) == track[0]]
    host = [s for s in spans if (s["pid"], s["tid"]) == trainer[0]]
    if len(twins) != len(host) or trace["otherData"].get("dropped_spans"):
        fail(f"--gpu: {len(twins)} GPU spans for {len(host)} trainer spans")
    skew = 50.0  # microseconds
    for h, g in zip(host, twins):
        if g["name"] != h["name"] or g["cat"] != "gpu" or g["args"].get("of") != h["cat"]:
            fail(f"--gpu: GPU span {g['name']} ({g['cat']}) does not mirror {h['name']} ({h['cat']})")
        if h["cat"] == "phase" and (g["ts"] < h["ts"] - skew or g["ts"] + g["dur"] > h["ts"] + h["dur"] + skew):
            fail(f"--gpu: {h['name']} ran on the device from {g['ts']:.0f} for {g['dur']:.0f} us, "
                 f"outside its host span from {h['ts']:.0f} for {h['dur']:.0f} us")
loader = [k for k, n in names.items() if n.startswith("loader")]
if result["config"]["num_workers"] > 0 and not any(by_thread[k] for k in loader):
    fail("no loader worker spans")
print(f"trace ok: {len(spans)} spans on {len(by_thread)} threads, {len(epochs)} epochs")
