"""multiplicative_decompose vs one LU, one full SVD and the literal Appendix C.3 transcription.

The goals, measured in one run (float64, Gaussian W; times are medians of a few runs
and only their ratios within this run are meaningful):
  * multiplicative_decompose within 3x of one full SVD of the same matrix, at every rank;
  * relative reconstruction error <= 1e-12 at n = 2048;
  * at least 50x faster than the literal transcription at n = 512, r = 1.

Run: .venv/bin/python benchmarks/bench_decompose.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.linalg
import torch

import dlor
from dlor.decompose._common import dense_product


def timed(fn, repeats: int):
    # NumPy, SciPy and PyTorch each carry a BLAS with its own thread pool; a pool that has just
    # worked keeps spinning for a moment and slows the next library's call. Let them settle.
    time.sleep(0.3)
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def rel(A: np.ndarray, W: np.ndarray) -> float:
    return float(np.linalg.norm(A - W) / np.linalg.norm(W))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="n in {256, 512} only")
    args = parser.parse_args()
    sizes = [256, 1024] if args.quick else [256, 1024, 2048]
    print(f"torch {torch.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, threads={torch.get_num_threads()}")
    head = (
        f"{'n':>5} {'r':>4} | {'decompose':>10} {'err':>8} | {'LU':>8} {'err':>8} | {'SVD':>8} {'err':>8} | "
        f"{'dec/SVD':>7} | {'schur':>8} {'err':>8} | {'literal':>9} {'err':>8} {'lit/dec':>8}"
    )
    print(head)
    print("-" * len(head))
    rng = np.random.default_rng(0)
    rows = [(n, r) for n in sizes for r in (1, 16, 128)] + [(512, 1)]
    for n, r in rows:
        A = rng.standard_normal((n, n))
        W = torch.from_numpy(A)
        reps = 3 if n <= 1024 else 1
        t_dec, factors = timed(lambda: dlor.multiplicative_decompose(W, r), reps)
        err_dec = rel(dense_product(factors).numpy(), A)
        t_lu, (lu, piv) = timed(lambda: scipy.linalg.lu_factor(A), reps)
        P, Lm, Um = scipy.linalg.lu(A)
        err_lu = rel(P @ Lm @ Um, A)
        t_svd, (Us, s, Vt) = timed(lambda: np.linalg.svd(A), reps)
        err_svd = rel((Us * s) @ Vt, A)
        t_schur, sf = timed(lambda: dlor.multiplicative_decompose(W, r, method="schur"), reps)
        err_schur = rel(dense_product(sf).numpy(), A)
        lit = f"{'-':>9} {'-':>8} {'-':>8}"
        if n <= 256 or (n == 512 and r == 1):
            t_lit, lf = timed(lambda: dlor.multiplicative_decompose(W, r, alpha=0.8, method="paper"), 1)
            prod = dense_product(lf).numpy()
            err_lit = rel(prod, A) if np.all(np.isfinite(prod)) else float("nan")
            lit = f"{t_lit:>8.2f}s {err_lit:>8.1e} {t_lit / t_dec:>7.0f}x"
        print(
            f"{n:>5} {r:>4} | {t_dec:>9.3f}s {err_dec:>8.1e} | {t_lu:>7.3f}s {err_lu:>8.1e} | "
            f"{t_svd:>7.3f}s {err_svd:>8.1e} | {t_dec / t_svd:>6.2f}x | {t_schur:>7.3f}s {err_schur:>8.1e} | {lit}"
        )
    print("\ndecompose = the default method='hessenberg'; schur = method='schur'.")
    print("literal = method='paper' (random Gaussian Z, alpha = 0.8, explicit inverses), as in Appendix C.3 / H.1.")
    print("Goals: dec/SVD <= 3 at every rank; err <= 1e-12 at n = 2048; lit/dec >= 50 at n = 512, r = 1.")


if __name__ == "__main__":
    main()
