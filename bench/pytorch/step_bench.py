# PyTorch's side of bench/cpu-vs-pytorch: steady-state training steps
# (forward, cross-entropy, backward, SGD step with momentum 0.9 and weight
# decay 5e-4) of the same ResNets trainbench builds, on random pixels.
# Prints: images_per_s=X step_ms=Y median_step_ms=Z
# usage: /usr/bin/python3 bench/pytorch/step_bench.py MODEL BATCH SIZE THREADS WARMUP STEPS
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests"))
import torch
import torch.nn.functional as F
from test_torch_oracle import Basic, Bottleneck, ResNet

name, n, size, threads, warmup, steps = sys.argv[1], *map(int, sys.argv[2:7])
torch.set_num_threads(threads)
base, _, w = name.partition(":w")
width = int(w) if w else 64
rows = {"resnet18-cifar": (Basic, [2, 2, 2, 2], False), "resnet50": (Bottleneck, [3, 4, 6, 3], True),
        "resnet18": (Basic, [2, 2, 2, 2], True)}
block, blocks, imagenet = rows[base]
torch.manual_seed(1)
model = ResNet(block, blocks, width, True, imagenet)
model.train()
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
x = torch.randn(n, 3, size, size)
y = torch.randint(0, 10, (n,))
times = []
for s in range(warmup + steps):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    if s >= warmup:
        times.append(time.perf_counter() - t0)
total = sum(times)
print(f"images_per_s={n * steps / total:.1f} step_ms={1e3 * total / steps:.2f} "
      f"median_step_ms={1e3 * sorted(times)[steps // 2]:.2f}")
