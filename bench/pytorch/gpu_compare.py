#!/usr/bin/env python3
"""trainbench's CUDA backend against PyTorch on the same GPU: same initial
weights (safetensors, written here from PyTorch's model), same batches in the
same order, same hyper-parameters; compares the loss of every step, the
parameters after N steps and the accuracy of the trained model on a held-out
batch.  Run by bench/gpu-session; needs torch with CUDA and the oracle driver
(tests/oracle_driver, built with the CUDA backend) taking --device/--precision.

Cases: resnet18-cifar at full width, batch 128, 50 SGD steps, in fp32 (TF32
off on both sides) and bf16 (PyTorch autocast bf16 + channels_last against
trainbench --precision bf16).

    python3 bench/pytorch/gpu_compare.py --driver build-gpu/tests/oracle_driver --out DIR
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import test_torch_oracle as O  # noqa: E402  (the CPU oracle's model definitions and safetensors I/O)

O.MODELS.setdefault("resnet18-cifar", (O.Basic, [2, 2, 2, 2], 64, False))


def torch_train(model, init, x, y, n, steps, lr, bf16):
    """PyTorch's side on the GPU: the oracle's training loop, optionally under autocast."""
    dev = torch.device("cuda")
    model.load_state_dict(init)
    model = model.to(dev)
    if bf16:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    xs, ys = x.to(dev), y.to(dev)
    losses = []
    for s in range(steps):
        b = (s % (x.shape[0] // n)) * n
        xb = xs[b:b + n]
        if bf16:
            xb = xb.contiguous(memory_format=torch.channels_last)
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(xb), ys[b:b + n])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


def accuracy(model_state, model_name, xt, yt, bf16):
    m = O.build(model_name, True, 0)
    m.load_state_dict(model_state)
    m = m.cuda().eval()
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
        pred = m(xt.cuda()).argmax(1).cpu()
    return float((pred == yt).float().mean()) * 100


def driver_train(driver, tmp, model_name, init, x, y, n, steps, lr, precision):
    wpath, bpath = os.path.join(tmp, "weights.safetensors"), os.path.join(tmp, "batch.safetensors")
    O.st_save(wpath, init, {"format": "pt"})
    O.st_save(bpath, {"input": x, "labels": y})
    out = os.path.join(tmp, "out")
    os.makedirs(out, exist_ok=True)
    cmd = [driver, "--model", model_name, "--weights", wpath, "--batch", bpath, "--batch-size", str(n),
           "--steps", str(steps), "--optimizer", "sgd", "--lr", repr(lr), "--momentum", "0.9",
           "--weight-decay", "5e-4", "--device", "cuda", "--precision", precision, "--out", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\nexit {r.returncode}\n{r.stdout}{r.stderr}")
    final, _ = O.st_load(os.path.join(out, "final.safetensors"))
    return final


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=128)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if not torch.cuda.is_available():
        sys.exit("gpu_compare: torch sees no GPU")
    help_text = subprocess.run([a.driver, "--help"], capture_output=True, text=True)
    if "--device" not in help_text.stdout + help_text.stderr:
        sys.exit("gpu_compare: the oracle driver has no --device option yet (tests/oracle_driver.c must create "
                 "tb_cuda_backend_create(0, precision) for --device cuda); nothing compared")
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    model_name, n, steps, lr = "resnet18-cifar", a.batch_size, a.steps, 0.05
    x, y = O.learnable_batches(n * 10, 32, 11)
    xt, yt = O.learnable_batches(1000, 32, 12)  # held out, same task
    results, ok = [], True
    for precision, loss_tol, acc_tol in (("fp32", 1e-2, 2.0), ("bf16", 5e-2, 5.0)):
        bf16 = precision == "bf16"
        model = O.build(model_name, True, 3)
        init = O.state(model)
        tmodel, tlosses = torch_train(model, init, x, y, n, steps, lr, bf16)
        tstate = {k: v.detach().float().cpu() if v.is_floating_point() else v.cpu()
                  for k, v in tmodel.state_dict().items()}
        case_dir = os.path.join(a.out, precision)
        os.makedirs(case_dir, exist_ok=True)
        final = driver_train(a.driver, case_dir, model_name, init, x, y, n, steps, lr, precision)
        dlosses = final["losses"].tolist()
        dstate = dict(tstate)
        for k in tstate:
            if k in final:
                dstate[k] = final[k].reshape(tstate[k].shape).to(tstate[k].dtype)
        tacc = accuracy(tstate, model_name, xt, yt, bf16)
        dacc = accuracy(dstate, model_name, xt, yt, bf16)
        worst = max(abs(p - q) / max(abs(q), 1e-6) for p, q in zip(dlosses, tlosses))
        last = abs(dlosses[-1] - tlosses[-1]) / max(abs(tlosses[-1]), 1e-6)
        case_ok = last <= loss_tol and abs(tacc - dacc) <= acc_tol
        ok &= case_ok
        r = {"precision": precision, "steps": steps, "batch": n, "torch_loss_last": tlosses[-1],
             "trainbench_loss_last": dlosses[-1], "loss_rel_diff_last": last, "loss_rel_diff_worst": worst,
             "torch_acc": tacc, "trainbench_acc": dacc, "ok": case_ok,
             "torch_losses": tlosses, "trainbench_losses": dlosses}
        results.append(r)
        print(f"{precision}: loss after {steps} steps torch {tlosses[-1]:.4f} trainbench {dlosses[-1]:.4f} "
              f"(rel diff {last:.3g}, worst step {worst:.3g}); held-out accuracy torch {tacc:.1f}% "
              f"trainbench {dacc:.1f}% -> {'ok' if case_ok else 'MISMATCH'}")
    with open(os.path.join(a.out, "compare.json"), "w") as f:
        json.dump(results, f, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
