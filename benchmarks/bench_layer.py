"""DLoRLinear vs nn.Linear: forward and forward+backward time, with the FLOP ratio.

Goals, measured in one run (absolute times on shared machines are noisy, so only the ratios
within this run mean anything):
  * issue 2: at (n, r, batch) = (4096, 64, 1024), forward speedup over nn.Linear >= 0.6 x FLOP
    ratio; at every shape, the forward within 1.3x of a hand-fused torch.addmm reference;
  * issue 12: at (4096, 64, 1024), forward + backward speedup >= 0.5 x its FLOP ratio (it was
    9.8x against 31.8, 0.31, before the fused backward), and no slower than before at
    (1024, 16, 1024).

Run: .venv/bin/python benchmarks/bench_layer.py
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils import benchmark

from dlor.nn import DLoRLinear

SHAPES = [(1024, 16, 1024), (4096, 64, 1024)]  # (n, r, batch)


def median_time(fn, min_run_time: float = 1.0) -> float:
    # torch.utils.benchmark.Timer runs on one thread unless told otherwise; time with the
    # process's thread count, the one printed in the header
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def fwd_bwd(module, x):
    def run():
        module.zero_grad(set_to_none=True)
        module(x).sum().backward()

    return run


def main() -> None:
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, float32")
    header = (
        f"{'n':>5} {'r':>4} {'B':>5} | {'Linear fwd':>10} {'DLoR fwd':>9} {'fused fwd':>9} {'naive fwd':>9} {'addmm fwd':>9} | "
        f"{'speedup':>7} {'FLOP ratio':>10} {'spd/FLOP':>8} {'DLoR/fused':>10} | "
        f"{'Linear f+b':>10} {'DLoR f+b':>9} {'speedup':>7} {'FLOP ratio':>10} {'spd/FLOP':>8}"
    )
    print(header)
    print("-" * len(header))
    for n, r, batch in SHAPES:
        dense = nn.Linear(n, n)
        layer = DLoRLinear(n, n, r)
        x = torch.randn(batch, n)
        a, U, V, b = (t.detach() for t in (layer.alpha, layer.U, layer.V, layer.bias))
        with torch.no_grad():
            t_dense = median_time(lambda: dense(x))
            t_dlor = median_time(lambda: layer(x))
            t_fused = median_time(lambda: torch.addcmul(b, x, a).addmm_(x @ V, U.T))
            t_addmm = median_time(lambda: torch.addmm(torch.addcmul(b, x, a), x @ V, U.T))
            t_naive = median_time(lambda: a * x + (x @ V) @ U.T + b)
        xg = x.clone().requires_grad_()
        t_dense_fb = median_time(fwd_bwd(dense, xg))
        t_dlor_fb = median_time(fwd_bwd(layer, xg))
        flop_dense = 2 * batch * n * n + batch * n
        flop_dlor = 2 * batch * n * r * 2 + 2 * batch * n  # xV, (xV)U^T, alpha*x + b
        flop_ratio = flop_dense / flop_dlor
        # backward: dense 2 matmuls of 2 B n^2; DLoR: g U, s V^T, g^T t, x^T s (2 B n r each) and 3 passes
        flop_ratio_fb = (flop_dense + 4 * batch * n * n + batch * n) / (flop_dlor + 8 * batch * n * r + 3 * batch * n)
        spd_fb = t_dense_fb / t_dlor_fb
        speedup = t_dense / t_dlor
        print(
            f"{n:>5} {r:>4} {batch:>5} | {t_dense*1e3:>8.2f}ms {t_dlor*1e3:>7.3f}ms {t_fused*1e3:>7.3f}ms "
            f"{t_naive*1e3:>7.3f}ms {t_addmm*1e3:>7.3f}ms | {speedup:>6.1f}x {flop_ratio:>9.1f}x {speedup/flop_ratio:>8.2f} "
            f"{t_dlor/t_fused:>10.2f} | {t_dense_fb*1e3:>8.2f}ms {t_dlor_fb*1e3:>7.3f}ms "
            f"{spd_fb:>6.1f}x {flop_ratio_fb:>9.1f}x {spd_fb / flop_ratio_fb:>8.2f}"
        )
    print(
        "\nfused = torch.addcmul(b, x, a).addmm_(x @ V, U.T) (hand-fused, in place); "
        "addmm = the out-of-place torch.addmm form; naive = a*x + (x@V)@U.T + b."
    )
    print("Goals: forward spd/FLOP >= 0.6 and forward+backward spd/FLOP >= 0.5 at (4096, 64, 1024); "
          "DLoR/fused <= 1.3 at every shape.")


if __name__ == "__main__":
    main()
