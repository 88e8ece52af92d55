"""nearest_dlor against one full SVD of the same matrix.

Goal: ``nearest_dlor`` within 3x of one ``torch.linalg.svd`` at 384x384, 1536x384, 768x768 and
3072x768 (the shapes of MiniLM and BERT-base layers), float64, at ranks 8 and 64. Both sides
run in this process with the same threads; only ratios within one run are meaningful. The
weights are Gaussian with a small identity component; the search's cost hardly depends on it.

Run: .venv/bin/python benchmarks/bench_nearest.py [--quick] [--reference]
  --reference also times the previous SVD-per-evaluation search (minutes at the large shapes).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import torch
from bench_decompose import timed  # the same median-of-repeats timer, BLAS pools settled

import dlor

SHAPES = [(384, 384), (1536, 384), (768, 768), (3072, 768)]
GOAL = 3.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one repeat, rank 8 only")
    parser.add_argument("--reference", action="store_true", help="also time the previous global search")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    ranks = [8] if args.quick else [8, 64]
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, float64; median of {repeats}")
    print(f"{'shape':>11} {'rank':>4} {'svd s':>8} {'nearest s':>10} {'ratio':>6} {'evals':>5} {'h/||W||':>9}")
    if args.reference:  # the tests' reference implementation
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "decompose"))
        from _nearest_reference import reference_nearest_dlor
    worst = 0.0
    gen = torch.Generator().manual_seed(0)
    for m, n in SHAPES:
        W = torch.randn(m, n, dtype=torch.float64, generator=gen) / n**0.5 + 0.3 * torch.eye(m, n, dtype=torch.float64)
        t_svd, _ = timed(lambda: torch.linalg.svd(W, full_matrices=False), repeats)
        for r in ranks:
            t_near, (M, cert) = timed(lambda: dlor.nearest_dlor(W, r, return_certificate=True), repeats)
            ratio = t_near / t_svd
            worst = max(worst, ratio)
            line = (
                f"{m:>5}x{n:<5} {r:>4} {t_svd:8.3f} {t_near:10.3f} {ratio:5.2f}x {cert.extras['eigendecompositions']:>5} "
                f"{cert.reconstruction_error:9.3e}"
            )
            if args.reference:
                t_ref, R = timed(lambda: reference_nearest_dlor(W, r), 1)
                ref_err = float(torch.linalg.norm(W - R.to_dense()) / torch.linalg.norm(W))
                line += f"  reference {t_ref:7.1f} s ({t_ref / t_svd:.0f}x svd), h/||W|| {ref_err:.3e}"
            print(line, flush=True)
    print(f"worst ratio {worst:.2f}x: goal {'met' if worst <= GOAL else 'NOT met'} (<= {GOAL:.0f}x one SVD)")


if __name__ == "__main__":
    main()
