"""Several pretraining runs of one shape (a learning-rate sweep): one at a time, batched, or side by side.

Three ways to train ``R`` runs of the byte-level GPT that differ only in the learning rate,
measured in one run (absolute times on shared machines are noisy; only the ratios within this
run mean anything):

* one at a time (``dlor.lm.train``), on every torch thread: the reference;
* batched: one ``vmap`` computation over the stacked runs (``dlor.lm.batched.train_batched``);
* side by side: ``P`` processes of one torch thread each, every process training its share of
  the runs one at a time (what ``dlor reproduce lm`` does on the CPU).

It prints the time of each, the ratio against one at a time (> 1: faster), and the largest
relative difference of the batched final losses from the one-at-a-time ones (they must agree
to 1e-5: the same runs, rounded differently).

Run: .venv/bin/python benchmarks/bench_lm_runs.py [--width 128] [--runs 5] [--steps 100] [--processes 2]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch

from dlor.lm import GPTConfig, TrainSettings, load_corpus, train
from dlor.lm.batched import train_batched


def _settings(args) -> list[TrainSettings]:
    rates = torch.logspace(-3.5, -2, args.runs).tolist()
    return [
        TrainSettings(
            steps=args.steps, batch_size=16, lr=r, warmup=10, eval_every=args.steps, eval_batches=4, checkpoint_every=args.steps
        )
        for r in rates
    ]


def _config(args) -> GPTConfig:
    return GPTConfig(variant=args.variant, n_layer=2, n_head=4, n_embd=args.width, rank=max(1, args.width // 4), block_size=64)


def _one_process(cfg, settings) -> float:
    torch.set_num_threads(1)
    corpus = load_corpus()
    return sum(train(cfg, s, corpus)["train_seconds"] for s in settings)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--variant", default="dlor", choices=["dense", "lowrank", "dlor"])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--processes", type=int, default=2)
    args = p.parse_args()
    cfg, settings, corpus = _config(args), _settings(args), load_corpus()
    print(
        f"{args.runs} runs of {args.variant} (width {args.width}, rank {cfg.rank}, 2 layers, 16 x 64 tokens, "
        f"{args.steps} steps), torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    t = time.perf_counter()
    one = [train(cfg, s, corpus) for s in settings]
    t_one = time.perf_counter() - t
    t = time.perf_counter()
    batched = train_batched(cfg, settings, corpus)
    t_batched = time.perf_counter() - t
    t = time.perf_counter()
    shares = [settings[i :: args.processes] for i in range(args.processes)]
    with ProcessPoolExecutor(args.processes, mp_context=get_context("spawn")) as pool:
        list(pool.map(_one_process, [cfg] * len(shares), shares))
    t_side = time.perf_counter() - t
    diffs = [abs(b["val_loss"] - o["val_loss"]) / abs(o["val_loss"]) for b, o in zip(batched, one, strict=True)]
    worst = max(diffs)
    print(f"one at a time      : {t_one:7.2f} s   1.00x")
    print(
        f"batched (vmap)     : {t_batched:7.2f} s   {t_one / t_batched:.2f}x   "
        f"final losses within {worst:.1e} relative of one at a time (goal 1e-5)"
    )
    print(
        "  relative difference of the final validation loss per rate: "
        + ", ".join(f"{s.lr:.2g}: {d:.1e}" for s, d in zip(settings, diffs, strict=True))
    )
    print(f"{args.processes} processes x 1 thread: {t_side:7.2f} s   {t_one / t_side:.2f}x   (process start-up included)")


if __name__ == "__main__":
    main()
