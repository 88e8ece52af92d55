"""The DLoR solve against linear_operator's LowRankRootAddedDiagLinearOperator, side by side.

The same PSD matrices ``alpha I + U U^T`` with ``U = randn(n, r) / sqrt(r)``, float64 and
float32, one right-hand side. Each timed call builds the operator and solves, as a first solve
with a new matrix does: linear_operator caches its factorisation on the operator object, so
timing repeated solves of one object would time the cache. Both sides run in this process with the same threads; only ratios
within one run are meaningful. Error: ``||x - x_ref|| / ||x_ref||`` against a float64 dense
solve (skipped above n = 4096).

Run: .venv/bin/python benchmarks/bench_solve.py
linear_operator is not a dependency of dlor; without it only dlor is timed
(``pip install -c constraints.txt linear-operator==0.6.1`` to compare).
"""

from __future__ import annotations

import math

import torch
from torch.utils.benchmark import Timer

from dlor import DLoR

CASES = [(512, 8, 1.0), (2048, 32, 0.5), (4096, 64, 1e-3), (8192, 16, 2.0)]


def _time(fn) -> float:
    return Timer("fn()", globals={"fn": fn}, num_threads=torch.get_num_threads()).blocked_autorange(min_run_time=0.5).median


def _lin_op(alpha: float, U: torch.Tensor):
    try:
        from linear_operator.operators import DiagLinearOperator, LowRankRootAddedDiagLinearOperator, LowRankRootLinearOperator
    except ImportError:
        return None
    n = U.shape[0]
    diag = DiagLinearOperator(torch.full((n,), alpha, dtype=U.dtype))
    return LowRankRootAddedDiagLinearOperator(LowRankRootLinearOperator(U), diag)


def main() -> None:
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}; median times")
    print(
        f"{'n':>5} {'r':>3} {'alpha':>6} {'dtype':>8} {'dlor ms':>8} {'lin_op ms':>9} {'ratio':>6} "
        f"{'dlor err':>9} {'lin_op err':>10}"
    )
    for n, r, alpha in CASES:
        g = torch.Generator().manual_seed(0)
        U64 = torch.randn(n, r, generator=g, dtype=torch.float64) / math.sqrt(r)
        b64 = torch.randn(n, 1, generator=g, dtype=torch.float64)
        ref = None
        if n <= 4096:
            ref = torch.linalg.solve(alpha * torch.eye(n, dtype=torch.float64) + U64 @ U64.T, b64)
        for dtype in (torch.float64, torch.float32):
            U, b = U64.to(dtype), b64.to(dtype)
            t_dlor = _time(lambda U=U, b=b: DLoR(alpha, U, U).solve(b))
            x = DLoR(alpha, U, U).solve(b).double()
            err = float((x - ref).norm() / ref.norm()) if ref is not None else math.nan
            op = _lin_op(alpha, U)
            if op is not None:
                t_op = _time(lambda U=U, b=b: _lin_op(alpha, U).solve(b))
                x_op = op.solve(b).double()
                err_op = float((x_op - ref).norm() / ref.norm()) if ref is not None else math.nan
                tail = f"{t_op * 1e3:9.3f} {t_dlor / t_op:6.2f} {err:9.1e} {err_op:10.1e}"
            else:
                tail = f"{'-':>9} {'-':>6} {err:9.1e} {'-':>10}"
            print(f"{n:5d} {r:3d} {alpha:6g} {str(dtype).replace('torch.', ''):>8} {t_dlor * 1e3:8.3f} {tail}")


if __name__ == "__main__":
    main()
