#!/usr/bin/python3
"""Expected parameters for tests/test_optim.c, from PyTorch's own optimizers.

Run with the system PyTorch (1.13, CPU): /usr/bin/python3 tests/gen_optim_expected.py
It prints the C arrays test_optim.c hard-codes: the parameters after the third
step of each optimizer, on the same inputs and hyper-parameters as the test.
LARS has no torch.optim class; trainbench's LARS is SGD with momentum whose lr
is multiplied per tensor by trust = eta * |w| / (|g| + wd * |w|) (computed in
double, rounded to float, multiplied by lr in float), batch-norm parameters and
biases left unscaled and without weight decay, so it runs as torch.optim.SGD
with two parameter groups and the first group's lr set every step.
"""
import numpy as np
import torch

P0 = [0.5, -1.25, 2.0, 0.0, -0.3, 1.7, 0.05]
GRADS = [
    [0.1, -0.2, 0.3, 0.05, -0.5, 0.0, 1.0],
    [-0.3, 0.1, 0.25, -0.05, 0.4, 0.2, -0.7],
    [0.2, 0.3, -0.1, 0.15, -0.2, -0.4, 0.6],
]
# LARS's second tensor, a batch-norm weight.
BN0 = [1.0, 0.9, 1.1]
BN_GRADS = [[0.05, -0.1, 0.2], [0.1, 0.1, -0.3], [-0.2, 0.05, 0.1]]

WD = 0.01
MOMENTUM = 0.8
LARS_LR, LARS_ETA = 0.5, 0.02

f32 = np.float32


def tensor(values):
    return torch.tensor(values, dtype=torch.float32, requires_grad=True)


def run(make, p0=P0, grads=GRADS):
    p = tensor(p0)
    opt = make([p])
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
    return p.detach().numpy()


def run_lars():
    p, bn = tensor(P0), tensor(BN0)
    opt = torch.optim.SGD([{"params": [p], "weight_decay": WD}, {"params": [bn], "weight_decay": 0.0}],
                          lr=LARS_LR, momentum=MOMENTUM, foreach=False)
    for g, gb in zip(GRADS, BN_GRADS):
        p.grad = torch.tensor(g, dtype=torch.float32)
        bn.grad = torch.tensor(gb, dtype=torch.float32)
        wn = p.detach().double().norm().item()
        gn = p.grad.double().norm().item()
        trust = f32(float(f32(LARS_ETA)) * wn / (gn + float(f32(WD)) * wn))
        opt.param_groups[0]["lr"] = float(f32(LARS_LR) * trust)
        opt.step()
    return p.detach().numpy(), bn.detach().numpy()


def c_array(name, values):
    return "static const float %s[] = {%s};" % (name, ", ".join("%.9gf" % v for v in values))


def main():
    optim = torch.optim
    results = {
        "sgd": run(lambda ps: optim.SGD(ps, lr=0.05, momentum=MOMENTUM, weight_decay=WD, foreach=False)),
        "nesterov": run(lambda ps: optim.SGD(ps, lr=0.05, momentum=MOMENTUM, weight_decay=WD, nesterov=True,
                                             foreach=False)),
        "adagrad": run(lambda ps: optim.Adagrad(ps, lr=0.1, weight_decay=WD, foreach=False)),
        "adadelta": run(lambda ps: optim.Adadelta(ps, lr=0.5, weight_decay=WD, foreach=False)),
        "adam": run(lambda ps: optim.Adam(ps, lr=0.01, weight_decay=WD, foreach=False)),
    }
    results["lars"], results["lars_bn"] = run_lars()
    print("/* torch %s, tests/gen_optim_expected.py: parameters after step 3 */" % torch.__version__)
    for name, values in results.items():
        print(c_array("torch_" + name, values))


if __name__ == "__main__":
    main()
