"""Vectorized trainer vs the naive one-model-at-a-time loop.

Measures, in one run, the per-epoch cost of
  * the naive loop (nn.Module + torch.optim.Adam + ReduceLROnPlateau), on a subset of models,
    extrapolated to the full Figure 4 grid (10 seeds x k = 1..16 x {deep, wide} + 10 dense);
  * the vectorized trainer on the full grid;
and prints their ratio and the projected time of the paper-budget sweep (50,000 epochs). The
compiled trainer is timed in one process (2 threads) and with the groups shared out to
single-threaded worker processes, as the paper-budget sweep runs them.

Both sides follow the same protocol: full-batch epochs, or (``--batch-size 32``) one pass over
each model's shuffle of the training set in minibatches, the plateau schedule stepped once per
epoch on the full training MSE (what ``TrainConfig(batch_size=32)`` does).

Run: .venv/bin/python benchmarks/bench_trainer.py [--dtype float32|float64] [--batch-size 32|full]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

import torch
from torch import nn

from dlor.experiments._data import sawtooth_data
from dlor.experiments._sweep import _cost as group_cost
from dlor.train import GroupSpec, GroupTrainer, TrainConfig, epoch_orders
from dlor.train._batched import make_module

KS = list(range(1, 17))
SEEDS = 10


def naive_epoch_cost(arch: str, k, widths, data, dtype, batch_size=None, epochs: int = 100) -> float:
    torch.manual_seed(0)
    model = make_module(arch, k, widths).to(dtype)
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=200, min_lr=1e-5)
    x, y = data["x_train"].to(dtype), data["y_train"].to(dtype)
    orders = epoch_orders(0, len(x), 1, epochs)
    t0 = time.perf_counter()
    for e in range(epochs):
        if batch_size is None:
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            sched.step(loss.item())
            continue
        for idx in orders[e].split(batch_size):
            opt.zero_grad()
            nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
            opt.step()
        with torch.no_grad():
            sched.step(nn.functional.mse_loss(model(x), y).item())
    return (time.perf_counter() - t0) / epochs


def _worker_share(specs, epochs: int, dtype_name: str, barrier, batch_size=None) -> tuple[float, float]:
    """In a worker process with one thread: compile and warm up its groups, wait for the other
    workers, then time ``epochs`` epochs of each group. Returns (per-epoch cost, warm-up s)."""
    torch.set_num_threads(1)
    dtype = getattr(torch, dtype_name)
    data = sawtooth_data()
    x, y = data["x_train"].to(dtype), data["y_train"].to(dtype)
    cfg = TrainConfig(epochs=epochs, compile=True, batch_size=batch_size)
    t0 = time.perf_counter()
    trainers = [GroupTrainer(spec, cfg, dtype=dtype) for spec in specs]
    for trainer in trainers:
        trainer._epoch(x, y)
        trainer._epoch(x, y)
    warm = time.perf_counter() - t0
    barrier.wait()  # all workers time their epochs side by side
    cost = 0.0
    for trainer in trainers:
        t0 = time.perf_counter()
        for _ in range(epochs):
            trainer._epoch(x, y)
        cost += (time.perf_counter() - t0) / epochs
    return cost, warm


def workers_grid_epoch(specs, workers: int, epochs: int, dtype_name: str, batch_size=None) -> tuple[float, float]:
    """Per-grid-epoch cost with the groups shared out to ``workers`` single-threaded processes
    (largest first, as dlor.experiments._sweep does): the slowest worker's sum."""
    shares = [[] for _ in range(workers)]
    load = [0] * workers
    for spec in sorted(specs, key=group_cost, reverse=True):
        i = load.index(min(load))
        shares[i].append(spec)
        load[i] += group_cost(spec)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(workers)
        with ctx.Pool(workers) as pool:
            out = pool.starmap(_worker_share, [(share, epochs, dtype_name, barrier, batch_size) for share in shares])
    return max(c for c, _ in out), max(w for _, w in out)


def grid_activations(specs, points: int) -> int:
    """Softplus evaluations in one forward pass of the whole grid over ``points`` inputs."""
    per_model = {"deep": lambda k: k + 1, "wide": lambda k: k + 2, "dense": lambda k: 2}
    return sum(len(s.seeds) * per_model[s.arch](s.k) * 16 * points for s in specs)


def activation_floor(n: int, chunk: int = 1 << 18) -> float:
    """Seconds to evaluate softplus and its derivative (the sigmoid, times an incoming gradient)
    on ``n`` float32 values, compiled, in cache-sized chunks: a lower bound for one training
    epoch that touches ``n`` activations, whatever else it does."""

    def both(z, g):  # one exp shared by the value and the derivative, as a minimal kernel would
        e = torch.exp(z)
        big = z > 20  # softplus's linear branch (PyTorch's threshold)
        return torch.where(big, z, torch.log1p(e)), g * torch.where(big, 1.0, e / (1 + e))

    step = torch.compile(both, fullgraph=True)
    z, g = torch.randn(chunk), torch.randn(chunk)
    for _ in range(3):
        step(z, g)
    calls = max(1, round(n / chunk))
    t0 = time.perf_counter()
    for _ in range(calls):
        step(z, g)
    return (time.perf_counter() - t0) * n / (calls * chunk)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--epochs", type=int, default=200, help="timed epochs per group")
    parser.add_argument(
        "--workers", type=int, default=2, help="also time the compiled trainer in this many single-threaded processes (1: skip)"
    )
    parser.add_argument("--batch-size", default="32", help="minibatch size of both sides, or 'full'")
    parser.add_argument(
        "--modes",
        default="eager,compiled",
        help="single-process modes to time: eager, compiled, "
        "both or none ('' skips them; the worker-process timing still runs when --workers > 1)",
    )
    args = parser.parse_args()
    bs = None if args.batch_size == "full" else int(args.batch_size)
    dtype = getattr(torch, args.dtype)
    data = sawtooth_data()
    print(
        f"torch {torch.__version__}, threads={torch.get_num_threads()}, {args.dtype}, "
        f"batch size {args.batch_size} ({'1' if bs is None else -(-len(data['x_train']) // bs)} Adam steps per epoch)"
    )
    subset = [1, 4, 8, 12, 16]
    naive = {}
    for arch in ("deep", "wide"):
        for k in subset:
            naive[(arch, k)] = naive_epoch_cost(arch, k, None, data, dtype, bs)
    dense_cost = naive_epoch_cost("dense", None, [1, 16, 16, 1], data, dtype, bs)
    # linear interpolation over k for the ks not measured
    naive_total = SEEDS * dense_cost
    for arch in ("deep", "wide"):
        for k in KS:
            lo = max(s for s in subset if s <= k)
            hi = min(s for s in subset if s >= k)
            a, b = naive[(arch, lo)], naive[(arch, hi)]
            c = a if lo == hi else a + (b - a) * (k - lo) / (hi - lo)
            naive_total += SEEDS * c
    print(
        "naive per-model epoch cost (ms): "
        + ", ".join(f"{a} k={k}: {v * 1e3:.2f}" for (a, k), v in naive.items())
        + f", dense: {dense_cost * 1e3:.2f}"
    )
    specs = [GroupSpec(a, k, None, list(range(SEEDS))) for a in ("deep", "wide") for k in KS]
    specs.append(GroupSpec("dense", None, [1, 16, 16, 1], list(range(SEEDS))))
    x, y = data["x_train"].to(dtype), data["y_train"].to(dtype)
    models = SEEDS * (2 * len(KS) + 1)
    print(f"\nfull grid: {models} models in {len(specs)} groups")
    print(
        f"naive loop (extrapolated): {naive_total * 1e3:8.1f} ms per grid-epoch "
        f"-> paper sweep (50,000 epochs) {naive_total * 5e4 / 3600:.1f} h"
    )
    n_act = grid_activations(specs, len(x))
    floor = activation_floor(n_act)
    print(
        f"activation floor: softplus and its derivative on the grid's {n_act / 1e6:.1f}M activations per epoch, "
        f"compiled, 2 threads: {floor * 1e3:.1f} ms -> with this softplus no trainer can beat the naive loop "
        f"by more than {naive_total / floor:.0f}x here"
    )

    def report(label: str, vec: float, warm: float) -> None:
        goal = "goal >= 50x" if bs is None else "goal >= 30x"
        print(
            f"{label:<26} {vec * 1e3:8.1f} ms per grid-epoch, ratio {naive_total / vec:5.1f}x ({goal}); "
            f"paper sweep {(vec * 5e4 + warm) / 60:.1f} min incl. {warm:.0f} s warm-up/compile"
        )

    modes = [m for m in args.modes.split(",") if m]
    for compiled in [m == "compiled" for m in ("eager", "compiled") if m in modes]:
        cfg = TrainConfig(epochs=args.epochs, compile=compiled, batch_size=bs)
        warm = vec = 0.0
        for spec in specs:  # group after group, as the sweep runs them
            trainer = GroupTrainer(spec, cfg, dtype=dtype)
            t0 = time.perf_counter()
            trainer._epoch(x, y)  # warm-up (compiled: the compilation of this group's graph)
            trainer._epoch(x, y)
            warm += time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(args.epochs):
                trainer._epoch(x, y)
            vec += (time.perf_counter() - t0) / args.epochs
        report("vectorized, torch.compile" if compiled else "vectorized, eager", vec, warm)
    if args.workers > 1:
        report(f"compiled, {args.workers} workers", *workers_grid_epoch(specs, args.workers, args.epochs, args.dtype, bs))


if __name__ == "__main__":
    main()
