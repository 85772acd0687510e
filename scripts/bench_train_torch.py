#!/usr/bin/env python3
"""The PyTorch half of scripts/bench-train.sh.

Trains the same network as tabula (tanh hidden layers, linear output, Adam,
inputs scaled to [-1, 1], output scaled by its range) on heat1d's default
grid, 16 x 64 x 64 nodes, with the values of its closed form
u = exp(-alpha pi^2 t) sin(pi x) (the solver's table agrees to ~1e-9), on
one CPU thread.  Prints lines "torch KEY VALUE" for the shell script.

usage: bench_train_torch.py epochs-1024 E | epochs-full E | target ERR SECONDS
"""
import math
import sys
import time

try:
    import torch
except ImportError:
    print("torch-missing")
    sys.exit(0)


def table():
    a = torch.linspace(0.01, 1.0, 16, dtype=torch.float64)
    x = torch.linspace(0.0, 1.0, 64, dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 64, dtype=torch.float64)
    A, X, T = torch.meshgrid(a, x, t, indexing="ij")
    u = torch.exp(-A * math.pi ** 2 * T) * torch.sin(math.pi * X)
    lo, hi = torch.tensor([0.01, 0.0, 0.0]), torch.tensor([1.0, 1.0, 1.0])
    inp = torch.stack([A, X, T], -1).reshape(-1, 3).float()
    inp = (inp - (lo + hi) / 2) * 2 / (hi - lo)
    u = u.reshape(-1, 1)
    mid, half = (u.max() + u.min()) / 2, (u.max() - u.min()) / 2
    return inp, ((u - mid) / half).float(), half.item() * 2


def network():
    torch.manual_seed(1)
    layers, w = [], 3
    for _ in range(3):
        layers += [torch.nn.Linear(w, 64), torch.nn.Tanh()]
        w = 64
    layers.append(torch.nn.Linear(w, 1))
    net = torch.nn.Sequential(*layers)
    for m in net:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    return net


def epoch(net, opt, x, y, batch):
    perm = torch.randperm(x.shape[0])
    for i in range(0, x.shape[0], batch):
        idx = perm[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((net(x[idx]) - y[idx]) ** 2)
        loss.backward()
        opt.step()


def max_rel(net, x, y):
    with torch.no_grad():
        return (net(x) - y).abs().max().item() / 2  # scaled units: range 2


def main():
    torch.set_num_threads(1)
    x, y, _ = table()
    net = network()
    mode = sys.argv[1]
    if mode in ("epochs-1024", "epochs-full"):
        batch = 1024 if mode == "epochs-1024" else x.shape[0]
        n = int(sys.argv[2])
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        epoch(net, opt, x, y, batch)  # warm-up, not timed
        # The fastest of three runs of n epochs, as the shell script does
        # for tabula: the machine may be shared.
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(n):
                epoch(net, opt, x, y, batch)
            best = min(best, (time.perf_counter() - t0) / n)
        print("torch s_per_epoch %.6f" % best)
        return
    target, limit = float(sys.argv[2]), float(sys.argv[3])
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    t0, n, err = time.perf_counter(), 0, 1.0
    while err > target and time.perf_counter() - t0 < limit:
        epoch(net, opt, x, y, 256)
        n += 1
        if n % 10 == 0:
            err = max_rel(net, x, y)
    print("torch to_target %.1f %d %.3e" % (time.perf_counter() - t0, n, err))


main()
