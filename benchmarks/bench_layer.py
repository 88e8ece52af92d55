"""DLoRLinear vs nn.Linear: forward and forward+backward time, with the FLOP ratio.

Goals, measured in one run (absolute times on shared machines are noisy, so only the ratios
within this run mean anything):
  * at (n, r, batch) = (4096, 64, 1024), forward speedup over nn.Linear >= 0.6 x FLOP
    ratio; at every shape, the forward within 1.3x of a hand-fused torch.addmm reference;
  * at (4096, 64, 1024), forward + backward speedup >= 0.5 x its FLOP ratio (it was
    9.8x against 31.8, 0.31, before the fused backward), and no slower than before at
    (1024, 16, 1024).

Run: .venv/bin/python benchmarks/bench_layer.py
"""

from __future__ import annotations

import statistics

import torch
from torch import nn
from torch.utils import benchmark

from dlor.nn import DLoRLinear

SHAPES = [(1024, 16, 1024), (4096, 64, 1024)]  # (n, r, batch)
ROUNDS = 5


def median_time(fn, min_run_time: float = 1.0) -> float:
    # torch.utils.benchmark.Timer runs on one thread unless told otherwise; time with the
    # process's thread count, the one printed in the header
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def fwd_bwd(module, x, upstream=None):
    """One forward + backward, with the gradients set to None first as optimizers do (also the
    input's: a gradient accumulated into ``x.grad`` across calls is no part of a training step).

    ``upstream=None``: ``y.sum().backward()``, a new user's first try; its gradient is one value
    expanded over ``(B, m)`` (stride 0). Otherwise ``y.backward(upstream)``: a dense gradient, as
    a layer inside a network receives from the layer above it.
    """

    def run():
        module.zero_grad(set_to_none=True)
        x.grad = None
        y = module(x)
        if upstream is None:
            y.sum().backward()
        else:
            y.backward(upstream)

    return run


def paired_speedups(slow, fast, rounds: int = ROUNDS) -> tuple[float, float, list[float]]:
    """Median times of ``slow`` and ``fast`` and the speedups ``slow / fast`` of ``rounds`` rounds.

    Each round times the two one after the other, so a change in the machine's speed between
    rounds (large on shared machines) moves both sides of that round's ratio alike.
    """
    t_slow, t_fast = [], []
    for _ in range(rounds):
        t_slow.append(median_time(slow, min_run_time=0.5))
        t_fast.append(median_time(fast, min_run_time=0.5))
    return statistics.median(t_slow), statistics.median(t_fast), [a / b for a, b in zip(t_slow, t_fast, strict=True)]


def flop_ratios(n: int, r: int, batch: int) -> tuple[float, float]:
    """FLOP ratios nn.Linear / DLoRLinear, forward and forward + backward, at square width n."""
    flop_dense = 2 * batch * n * n + batch * n
    flop_dlor = 2 * batch * n * r * 2 + 2 * batch * n  # xV, (xV)U^T, alpha*x + b
    # backward: dense 2 matmuls of 2 B n^2; DLoR: g U, s V^T, g^T t, x^T s (2 B n r each) and 3 passes
    fb = (flop_dense + 4 * batch * n * n + batch * n) / (flop_dlor + 8 * batch * n * r + 3 * batch * n)
    return flop_dense / flop_dlor, fb


def table_rows(header: str):
    """Print ``header`` and its rule, then yield ``(n, r, batch, nn.Linear, DLoRLinear, x)`` per shape."""
    print(header)
    print("-" * len(header))
    for n, r, batch in SHAPES:
        yield n, r, batch, nn.Linear(n, n), DLoRLinear(n, n, r), torch.randn(batch, n)


def forward_table() -> None:
    header = (
        f"{'n':>5} {'r':>4} {'B':>5} | {'Linear fwd':>10} {'DLoR fwd':>9} {'fused fwd':>9} {'naive fwd':>9} {'addmm fwd':>9} | "
        f"{'speedup':>7} {'FLOP ratio':>10} {'spd/FLOP':>8} {'DLoR/fused':>10}"
    )
    for n, r, batch, dense, layer, x in table_rows(header):
        a, U, V, b = (t.detach() for t in (layer.alpha, layer.U, layer.V, layer.bias))
        with torch.no_grad():
            t_dense = median_time(lambda: dense(x))
            t_dlor = median_time(lambda: layer(x))
            t_fused = median_time(lambda: torch.addcmul(b, x, a).addmm_(x @ V, U.T))
            t_addmm = median_time(lambda: torch.addmm(torch.addcmul(b, x, a), x @ V, U.T))
            t_naive = median_time(lambda: a * x + (x @ V) @ U.T + b)
        flop_ratio, _ = flop_ratios(n, r, batch)
        speedup = t_dense / t_dlor
        print(
            f"{n:>5} {r:>4} {batch:>5} | {t_dense * 1e3:>8.2f}ms {t_dlor * 1e3:>7.3f}ms {t_fused * 1e3:>7.3f}ms "
            f"{t_naive * 1e3:>7.3f}ms {t_addmm * 1e3:>7.3f}ms | {speedup:>6.1f}x {flop_ratio:>9.1f}x "
            f"{speedup / flop_ratio:>8.2f} {t_dlor / t_fused:>10.2f}"
        )
    print(
        "fused = torch.addcmul(b, x, a).addmm_(x @ V, U.T) (hand-fused, in place); "
        "addmm = the out-of-place torch.addmm form; naive = a*x + (x@V)@U.T + b."
    )


def forward_backward_table() -> None:
    header = (
        f"{'n':>5} {'r':>4} {'B':>5} {'gradient':>9} | {'Linear f+b':>10} {'DLoR f+b':>9} | "
        f"{'speedup (median, min-max of rounds)':>35} {'FLOP ratio':>10} {'spd/FLOP':>8}"
    )
    for n, r, batch, dense, layer, x in table_rows(header):
        xg = x.requires_grad_()
        _, flop_ratio_fb = flop_ratios(n, r, batch)
        for name, upstream in (("y.sum()", None), ("dense G", torch.randn(batch, n))):
            t_dense, t_dlor, speedups = paired_speedups(fwd_bwd(dense, xg, upstream), fwd_bwd(layer, xg, upstream))
            med = statistics.median(speedups)
            spread = f"{med:.1f}x ({min(speedups):.1f}-{max(speedups):.1f})"
            print(
                f"{n:>5} {r:>4} {batch:>5} {name:>9} | {t_dense * 1e3:>8.2f}ms {t_dlor * 1e3:>7.3f}ms | "
                f"{spread:>35} {flop_ratio_fb:>9.1f}x {med / flop_ratio_fb:>8.2f}"
            )
    print(
        f"f+b: forward + backward, all gradients (the input's too) set to None before each; {ROUNDS} rounds, "
        "each timing nn.Linear then DLoRLinear; times are medians over rounds.\n"
        "y.sum() = y.sum().backward() (one value expanded over (B, m)); dense G = y.backward(G), "
        "the gradient a layer inside a network receives."
    )


def main() -> None:
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, float32\n")
    forward_table()
    print()
    forward_backward_table()
    print(
        "\nGoals: forward spd/FLOP >= 0.6 and forward+backward spd/FLOP >= 0.5 at (4096, 64, 1024); "
        "DLoR/fused <= 1.3 at every shape."
    )


if __name__ == "__main__":
    main()
