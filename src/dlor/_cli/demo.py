"""``dlor demo``: a short, checked tour of the library."""

from __future__ import annotations

import time


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="a short, self-checking tour of the DLoR library")
    p.set_defaults(run=run)


def run(args) -> int:
    import torch

    from dlor import DLoR
    from dlor.nn import DLoRLinear

    torch.manual_seed(0)
    n, r = 512, 8
    print(f"DLoR matrix M = alpha*I + U V^T, n = {n}, r = {r} (Definition 3)")
    M = DLoR(1.5, torch.randn(n, r, dtype=torch.float64) / n**0.5, torch.randn(n, r, dtype=torch.float64) / n**0.5)
    D = M.to_dense()
    X = torch.randn(n, 4, dtype=torch.float64)
    rel = lambda a, b: float((a - b).norm() / b.norm())  # noqa: E731
    print(f"  parameters: {M.num_params} vs dense {n * n}")
    print(f"  ||M X - dense X|| / ||dense X||        = {rel(M @ X, D @ X):.2e}")
    print(f"  Woodbury solve vs dense solve          = {rel(M.solve(X), torch.linalg.solve(D, X)):.2e}")
    print(f"  log|det| (determinant lemma) vs dense  = {abs(float(M.slogdet()[1] - torch.linalg.slogdet(D)[1])):.2e}")
    prod = M.compose(M.T)
    print(f"  (M M^T) stays DLoR with rank {prod.rank}; error vs dense = {rel(prod.to_dense(), D @ D.T):.2e}")

    n_big = 100_000
    layer = DLoRLinear(n_big, n_big, rank=4)
    x = torch.randn(8, n_big)
    t0 = time.perf_counter()
    layer(x).square().mean().backward()
    dt = time.perf_counter() - t0
    print(
        f"DLoRLinear({n_big}, {n_big}, rank=4): {layer.num_params:,} parameters "
        f"(dense: {n_big * n_big + n_big:,}, ~40 GB in float32); forward+backward on 8 rows in {dt:.2f}s"
    )
    return 0
