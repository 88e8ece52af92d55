"""The DLoR adapter against PEFT's LoRA at equal rank: forward, and forward + backward, time.

Both wrap the same frozen (4096, 4096) nn.Linear with a rank-16 update, batch 32 x 128 tokens,
float32. The DLoR adapter (``dlor.peft``, through ``peft.get_peft_model``) adds ``s alpha x`` to
LoRA's ``s B A x``: one scaled copy of ``x``. Goal: at most 1.15x LoRA's time, both ways.

Each round times LoRA and DLoR one after the other, so a change in the machine's speed between
rounds moves both sides of that round's ratio alike; the ratio printed is the median over rounds.

Run: .venv/bin/python benchmarks/bench_adapter.py [--n 4096] [--rank 16] [--rounds 5]
"""

from __future__ import annotations

import argparse
import copy
import statistics

import peft
import torch
from torch import nn
from torch.utils import benchmark

import dlor.peft

GOAL = 1.15


def median_time(fn, min_run_time: float) -> float:
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def step(model: nn.Module, x: torch.Tensor, backward: bool):
    def run():
        if backward:
            model.zero_grad(set_to_none=True)
            model(x).sum().backward()
        else:
            with torch.no_grad():
                model(x)

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32 * 128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-run-time", type=float, default=1.0)
    args = parser.parse_args()
    torch.manual_seed(0)
    base = nn.Sequential(nn.Linear(args.n, args.n))
    lora = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(r=args.rank, lora_alpha=16, target_modules=["0"]))
    ours = peft.get_peft_model(copy.deepcopy(base), dlor.peft.DLoRConfig(r=args.rank, scaling_alpha=16, target_modules=["0"]))
    x = torch.randn(args.tokens, args.n)
    print(f"torch {torch.__version__}, peft {peft.__version__}, {torch.get_num_threads()} threads")
    print(f"frozen ({args.n}, {args.n}) nn.Linear, rank {args.rank}, {args.tokens} tokens, float32, {args.rounds} rounds")
    verdict = True
    for backward in (False, True):
        ratios, t_lora, t_dlor = [], [], []
        for _ in range(args.rounds):
            a = median_time(step(lora, x, backward), args.min_run_time)
            b = median_time(step(ours, x, backward), args.min_run_time)
            t_lora.append(a)
            t_dlor.append(b)
            ratios.append(b / a)
        ratio = statistics.median(ratios)
        verdict &= ratio <= GOAL
        name = "forward + backward" if backward else "forward"
        print(
            f"{name:18s}: LoRA {statistics.median(t_lora) * 1e3:8.1f} ms, DLoR {statistics.median(t_dlor) * 1e3:8.1f} ms, "
            f"DLoR / LoRA {ratio:.3f}x (rounds {min(ratios):.3f}-{max(ratios):.3f}; goal <= {GOAL}x: "
            f"{'met' if ratio <= GOAL else 'NOT met'})"
        )
    return 0 if verdict else 1


if __name__ == "__main__":
    raise SystemExit(main())
