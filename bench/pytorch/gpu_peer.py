#!/usr/bin/env python3
"""trainbench and PyTorch side by side on one GPU: images/s, epoch time and
peak memory for the issue 6 benchmark matrix, with each run's fraction of
the GPU's dense bf16 peak.  Run by bench/gpu-session; writes OUT/results.json,
OUT/summary.txt and each trainbench run directory under OUT/.

Both sides train the same task shape: synthetic data of SYNTHETIC_CLASSES
(10) classes at the case's image size (trainbench's `synthetic` dataset, which
honours --image-size: class templates plus noise, uint8; PyTorch: random uint8
batches with labels 0..9, normalised on the GPU with the same mean and std),
a 10-class model, the same batch size, SGD with momentum 0.9 and weight decay
5e-4.  PyTorch is timed with CUDA events over
the steps after a warm-up (the compiled variant after its compilation), so
its figures exclude data loading; trainbench's are its own result.json
(train_s: upload + compute with the device synchronised, and images/s over
the whole epoch including loading), reported both ways.

    python3 bench/pytorch/gpu_peer.py --trainbench build-gpu/trainbench --out DIR [--quick]
        [--budget SECONDS] [--case-timeout SECONDS]

The cases run most telling first (resnet18-cifar batch 512 bf16/amp, then
fp32, then batch 128, torch.compile and resnet50 last); with --budget no case
starts once that many seconds have passed (the rest are recorded as skipped),
and results.json and summary.txt are rewritten after every case, so a device
call that runs out of time still brings back what was measured.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
import test_torch_oracle as O  # noqa: E402  (kuangliu / torchvision ResNets with trainbench's names)

O.MODELS.setdefault("resnet18-cifar", (O.Basic, [2, 2, 2, 2], 64, False))
O.MODELS.setdefault("resnet50", (O.Bottleneck, [3, 4, 6, 3], 64, True))

# Dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, by device name.
BF16_PEAK = {"H100 80GB HBM3": 989.4, "H100 PCIe": 756.0, "H100 NVL": 835.0, "H200": 989.4, "A100": 312.0}


def bf16_peak(name):
    for k, v in BF16_PEAK.items():
        if k in name:
            return v
    return None


# trainbench's synthetic dataset: its class count and normalisation
# (datasets/synthetic.c, datasets/dataset.c), which the PyTorch side copies.
SYNTHETIC_CLASSES = 10
SYNTHETIC_MEAN, SYNTHETIC_STD = 0.5, 0.25


def macs_per_image(tb, model, hw):
    r = subprocess.run([tb, "model", "info", model, "--json", "--input", str(hw), "--classes",
                        str(SYNTHETIC_CLASSES)], capture_output=True, text=True)
    try:
        return json.loads(r.stdout)["macs_per_image"]
    except (ValueError, KeyError):
        return None


def torch_bench(model_name, hw, batch, mode, steps, warmup):
    """mode: fp32 | tf32 | amp (bf16 autocast, channels_last) | compile (amp + torch.compile)."""
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = mode != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = mode != "fp32"
    dev = torch.device("cuda")
    model = O.build(model_name, True, 0).to(dev)
    assert model.fc.out_features == SYNTHETIC_CLASSES, "the PyTorch model must have trainbench's class count"
    cl = mode in ("amp", "compile")
    if cl:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    fwd = torch.compile(model) if mode == "compile" else model
    g = torch.Generator(device=dev).manual_seed(0)
    pool = [torch.randint(0, 256, (batch, 3, hw, hw), dtype=torch.uint8, device=dev, generator=g) for _ in range(4)]
    labels = [torch.randint(0, SYNTHETIC_CLASSES, (batch,), device=dev, generator=g) for _ in range(4)]
    mean, std = SYNTHETIC_MEAN, SYNTHETIC_STD

    def step(i):
        x = (pool[i % 4].float() / 255 - mean) / std
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=mode in ("amp", "compile")):
            loss = F.cross_entropy(fwd(x), labels[i % 4])
        loss.backward()
        opt.step()

    for i in range(warmup):
        step(i)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for i in range(steps):
        step(i)
    end.record()
    torch.cuda.synchronize()
    s = start.elapsed_time(end) / 1000
    del model, opt, fwd
    peak = torch.cuda.max_memory_allocated()
    torch.cuda.empty_cache()
    return {"images_per_s": steps * batch / s, "step_s": s / steps, "peak_bytes": peak}


def trainbench_bench(tb, out, model, hw, batch, precision, images, epochs, case_timeout=None):
    run_dir = os.path.join(out, f"tb-{model}-b{batch}-{precision}-{int(time.time())}")
    cmd = [tb, "train", "--model", model, "--dataset", "synthetic", "--device", "cuda", "--precision", precision,
           "--batch-size", str(batch), "--epochs", str(epochs), "--limit-train", str(images), "--limit-test", "1000",
           "--num-workers", str(min(16, os.cpu_count() or 4)), "--quiet", "--run-dir", run_dir]
    cmd += ["--image-size", str(hw)]  # the synthetic data is generated at this size
    cmd += ["--no-checkpoint"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=case_timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {case_timeout} s"}
    if r.returncode != 0:
        return {"error": f"exit {r.returncode}: {r.stderr.strip()[-600:]}"}
    res = json.load(open(os.path.join(run_dir, "result.json")))
    if res["model"]["input"][1:] != [hw, hw] or res["dataset"]["classes"] != SYNTHETIC_CLASSES:
        # Comparing a 32x32 run with a 224x224 one would be meaningless.
        return {"error": f"trainbench trained on {res['model']['input']} with {res['dataset']['classes']} classes, "
                         f"not [3, {hw}, {hw}] with {SYNTHETIC_CLASSES}"}
    s = res["summary"]
    ep = res["epochs"][-1]
    return {"images_per_s": s["images_per_s"], "train_images_per_s": ep["images"] / ep["train_s"],
            "epoch_s": s["avg_epoch_s"], "train_s": s["avg_train_s"], "load_s": s["avg_load_s"],
            "peak_bytes": s.get("peak_device_bytes"), "run_dir": run_dir}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trainbench", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true", help="fewer steps, for a smoke run")
    ap.add_argument("--budget", type=float, default=None, help="start no case after this many seconds")
    ap.add_argument("--case-timeout", type=float, default=None, help="stop a trainbench run after this many seconds")
    ap.add_argument("--images", type=int, default=25600, help="training images per epoch of a CIFAR case")
    a = ap.parse_args()
    t_start = time.monotonic()
    os.makedirs(a.out, exist_ok=True)
    name = torch.cuda.get_device_name(0)
    peak = bf16_peak(name)
    steps, warmup = (20, 5) if a.quick else (100, 20)
    # Most telling first: a budget that runs out drops the least useful cases.
    cases = []
    for batch in (512, 128):
        cases += [("resnet18-cifar", 32, batch, "trainbench", "bf16"), ("resnet18-cifar", 32, batch, "torch", "amp"),
                  ("resnet18-cifar", 32, batch, "trainbench", "fp32"), ("resnet18-cifar", 32, batch, "torch", "fp32"),
                  ("resnet18-cifar", 32, batch, "trainbench", "tf32")]
    cases += [("resnet50", 224, 256, "trainbench", "bf16"), ("resnet50", 224, 256, "torch", "amp")]
    cases += [("resnet18-cifar", 32, batch, "torch", "compile") for batch in (512, 128)]
    rows = []
    for model, hw, batch, who, mode in cases:
        if a.budget is not None and time.monotonic() - t_start > a.budget:
            r = {"skipped": f"budget of {a.budget:.0f} s spent"}
        else:
            macs = macs_per_image(a.trainbench, model, hw)
            try:
                if who == "torch":
                    r = torch_bench(model, hw, batch, mode, steps if hw == 32 else steps // 2, warmup)
                else:
                    images = (a.images if not a.quick else 5000) if hw == 32 else batch * (steps // 2)
                    r = trainbench_bench(a.trainbench, a.out, model, hw, batch, mode, images, 2, a.case_timeout)
            except Exception as e:  # one failing case must not stop the others
                r = {"error": repr(e)[-600:]}
            ips = r.get("train_images_per_s") or r.get("images_per_s")
            if ips and macs and peak:  # training ~ 3x forward MACs, 2 FLOPs a MAC
                r["frac_bf16_peak"] = ips * macs * 6 / (peak * 1e12)
            if ips:
                r["epoch_50k_s"] = 50000 / ips
        r.update({"model": model, "image": hw, "batch": batch, "engine": who, "mode": mode, "device": name})
        rows.append(r)
        print(json.dumps(r), flush=True)
        write(a.out, rows, name, peak)
    print(open(os.path.join(a.out, "summary.txt")).read(), end="")


def write(out, rows, name, peak):
    """results.json and summary.txt as they stand (rewritten after every case)."""
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    lines = [f"GPU: {name} (dense bf16 peak {peak} TFLOP/s)",
             f"{'model':15} {'batch':>5} {'engine':10} {'mode':8} {'img/s':>9} {'train img/s':>11} "
             f"{'epoch50k s':>10} {'peak MiB':>9} {'%peak':>6}"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"{r['model']:15} {r['batch']:5} {r['engine']:10} {r['mode']:8} skipped: {r['skipped']}")
            continue
        if "error" in r:
            lines.append(f"{r['model']:15} {r['batch']:5} {r['engine']:10} {r['mode']:8} ERROR {r['error'][:80]}")
            continue
        pk = r.get("peak_bytes")
        lines.append(f"{r['model']:15} {r['batch']:5} {r['engine']:10} {r['mode']:8} {r['images_per_s']:9.0f} "
                     f"{r.get('train_images_per_s', r['images_per_s']):11.0f} {r.get('epoch_50k_s', 0):10.2f} "
                     f"{(pk or 0) / 2**20:9.0f} {100 * r.get('frac_bf16_peak', 0):6.1f}")
    text = "\n".join(lines)
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
