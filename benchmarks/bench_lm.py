"""One training step (forward, backward, AdamW) of the byte-level GPT, every variant at the same width.

The goal, measured in one run (absolute times on shared machines are noisy; only the
ratios within this run mean anything): at n_embd = 768, 4 layers, rank 64 and 8 x 256 tokens,
the ``dlor`` step is >= 2x faster than the ``dense`` step. The FLOP ratio of the projections
(dense / DLoR, forward) is printed beside the measured ratio, with each variant's memory for one
step (parameters, gradients, AdamW moments and saved activations; see dlor.lm.trainer.training_memory).

Run: .venv/bin/python benchmarks/bench_lm.py [--quick] [--sltrain]
  --quick: n_embd 256, 2 layers, rank 32, 4 x 128 tokens (seconds; for a smoke test)
  --sltrain: sparse plus low-rank (SLTrain) against low-rank at the shapes of `dlor reproduce lm`
    (width 128, 2 layers, rank 32, 16 x 64 tokens), at DLoR's parameter count as the study
    matches it, with its sparse part as a CSR product and as one dense product of S + U V^T.
    Goal: <= 1.5x low-rank's time per token, steps timed in alternation, median ratio of rounds.
    --threads 1 measures it as `dlor reproduce lm` trains: one process of one thread per core.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dlor.lm import GPT, GPTConfig, TrainSettings
from dlor.lm.trainer import make_optimizer, training_memory

GOAL = 2.0
SLTRAIN_GOAL = 1.5


def projection_flops(cfg: GPTConfig, tokens: int) -> int:
    """Forward multiply-add FLOPs of the attention and MLP projections of one batch."""
    d, h, L = cfg.n_embd, cfg.mlp_hidden, cfg.n_layer
    shapes = [(d, d)] * 4 + [(d, h), (h, d)]
    per = 0
    for n_in, n_out in shapes:
        if cfg.variant == "dense":
            per += 2 * n_in * n_out
        elif cfg.variant == "sparse+lowrank":
            per += 2 * cfg.rank * (n_in + n_out) + 2 * round(cfg.density * n_in * n_out)
        else:
            per += 2 * cfg.rank * (n_in + n_out) + (2 * min(n_in, n_out) if cfg.variant == "dlor" else 0)
    return L * per * tokens


def step_time(model, opt, x, y, repeats: int) -> float:
    def step():
        loss = model(x, y)[1]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up (allocator, AdamW state)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def sltrain(rounds: int) -> None:
    """Sparse plus low-rank against low-rank at the lm study's width 128, in alternating rounds."""
    from dataclasses import replace

    from dlor.experiments.pretraining.shapes import matched_sltrain

    d, L, B, T = 128, 2, 16, 64
    low = GPTConfig(variant="lowrank", n_layer=L, n_head=4, n_embd=d, block_size=T, rank=d // 4)
    dlor = replace(low, variant="dlor")
    sparse = matched_sltrain(GPT(dlor).num_params(), dlor)
    configs = {
        "lowrank": low,
        "dlor": dlor,
        "sparse+lowrank (CSR)": replace(sparse, sparse_product="sparse"),
        "sparse+lowrank (dense S + UV^T)": replace(sparse, sparse_product="dense"),
    }
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (B, T), generator=g)
    y = torch.randint(0, 256, (B, T), generator=g)
    built = {}
    for name, cfg in configs.items():
        torch.manual_seed(0)
        model = GPT(cfg)
        built[name] = (model, make_optimizer(model, TrainSettings()))
    times: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(rounds):
        for name, (model, opt) in built.items():
            times[name].append(step_time(model, opt, x, y, 3))
    ratios = {name: statistics.median(t / b for t, b in zip(times[name], times["lowrank"], strict=True)) for name in configs}
    print(
        f"torch {torch.__version__}, threads={torch.get_num_threads()}, float32; n_embd {d}, {L} layers, "
        f"{B} x {T} tokens; sparse+lowrank at rank {sparse.rank}, density {sparse.density:g} "
        f"(DLoR's parameters within 1%); median of {rounds} alternating rounds"
    )
    for name, (model, _) in built.items():
        med = statistics.median(times[name])
        tokens = B * T / med
        print(
            f"{name:>32} {model.num_params():>9,} params {med * 1e3:8.1f} ms/step {tokens:8.0f} tokens/s "
            f"{ratios[name]:6.2f}x low-rank"
        )
    best = ratios["sparse+lowrank (dense S + UV^T)"]
    met = "met" if best <= SLTRAIN_GOAL else "NOT met"
    print(f"sparse+lowrank (dense S + UV^T) {best:.2f}x low-rank per token: goal <= {SLTRAIN_GOAL}x {met}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sltrain", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.sltrain:
        sltrain(args.repeats)
        return
    d, L, r, B, T = (256, 2, 32, 4, 128) if args.quick else (768, 4, 64, 8, 256)
    print(
        f"torch {torch.__version__}, threads={torch.get_num_threads()}, float32; n_embd {d}, {L} layers, rank {r}, "
        f"{B} x {T} tokens; median of {args.repeats} steps"
    )
    print(
        f"{'variant':>15} {'params':>11} {'step s':>8} {'tokens/s':>9} {'proj GFLOP':>10} {'memory MB':>10} "
        f"{'FLOP ratio':>10} {'measured':>9}"
    )
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (B, T), generator=g)
    y = torch.randint(0, 256, (B, T), generator=g)
    results = {}
    for variant in ("dense", "lowrank", "dlor", "sparse+lowrank"):
        cfg = GPTConfig(
            variant=variant,
            n_layer=L,
            n_head=max(1, d // 64),
            n_embd=d,
            block_size=T,
            rank=r,
            density=0.03 if variant == "sparse+lowrank" else None,
        )
        torch.manual_seed(0)
        model = GPT(cfg)
        opt = make_optimizer(model, TrainSettings())
        t = step_time(model, opt, x, y, args.repeats)
        mem = training_memory(model, x, y)["training_bytes"] / 2**20
        results[variant] = (t, projection_flops(cfg, B * T))
        flop_ratio = results["dense"][1] / results[variant][1]
        print(
            f"{variant:>15} {model.num_params():>11,} {t:>8.3f} {B * T / t:>9.0f} {results[variant][1] / 1e9:>10.2f} "
            f"{mem:>10.1f} {flop_ratio:>9.1f}x {results['dense'][0] / t:>8.2f}x",
            flush=True,
        )
    ratio = results["dense"][0] / results["dlor"][0]
    print(
        f"dlor step {ratio:.2f}x faster than dense (FLOP ratio of the projections "
        f"{results['dense'][1] / results['dlor'][1]:.1f}x): goal >= {GOAL:.0f}x {'met' if ratio >= GOAL else 'NOT met'}"
    )
    print("sparse+lowrank: SLTrain's density 0.03 at the same rank (its sparse part is a CSR product).")


if __name__ == "__main__":
    main()
