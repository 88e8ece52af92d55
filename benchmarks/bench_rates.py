"""A grid of learning rates as one more batch dimension of the vectorized trainer.

Times, in one run and on the same data, the training of R rates x S seeds of one architecture
  * as one group of R * S models (``GroupSpec(lrs=...)``), and
  * as R groups of S models, one per rate (the way a rate sweep ran before),
and prints the time per model of the first over the second. Goal: <= 0.5x at 5 rates.
Each round times both one after the other, so a change in the machine's speed moves both; the
ratio printed is the median over rounds.

Run: .venv/bin/python benchmarks/bench_rates.py [--arch deep] [--k 8] [--seeds 3] [--epochs 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dlor.experiments._data import sawtooth_data
from dlor.train import GroupSpec, GroupTrainer, TrainConfig

GOAL = 0.5
RATES = [5e-4, 1.5e-3, 5e-3, 1.5e-2, 5e-2]


def seconds(specs: list[GroupSpec], cfg: TrainConfig, data) -> float:
    t0 = time.perf_counter()
    for spec in specs:
        GroupTrainer(spec, cfg, dtype=torch.float32).run(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="deep", choices=["deep", "wide"])
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = sawtooth_data()
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size)
    seeds = list(range(args.seeds))
    one = [GroupSpec(args.arch, args.k, None, seeds * len(RATES), lrs=[r for r in RATES for _ in seeds])]
    apart = [GroupSpec(args.arch, args.k, None, seeds, lrs=[r] * len(seeds)) for r in RATES]
    seconds(one, cfg, data)  # warm-up: allocator, thread pool
    ratios, times = [], []
    for _ in range(args.rounds):
        a, b = seconds(one, cfg, data), seconds(apart, cfg, data)
        ratios.append(a / b)
        times.append((a, b))
    n = len(RATES) * len(seeds)
    a, b = statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)
    ratio = statistics.median(ratios)
    print(
        f"{args.arch} k = {args.k}, {len(RATES)} rates x {len(seeds)} seeds, {args.epochs} epochs, batch {args.batch_size}, "
        f"float32, {torch.get_num_threads()} threads, median of {args.rounds} rounds"
    )
    print(f"  one group of {n} models:            {a:.2f} s ({1e3 * a / n / args.epochs:.3f} ms per model-epoch)")
    per = 1e3 * b / n / args.epochs
    print(f"  {len(RATES)} groups of {len(seeds)} models, one per rate: {b:.2f} s ({per:.3f} ms per model-epoch)")
    print(f"  ratio {ratio:.2f}x (goal <= {GOAL}x): {'within' if ratio <= GOAL else 'ABOVE'} the goal")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
