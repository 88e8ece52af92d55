"""Run in an environment with only the core dependencies: ``import dlor`` and the math work.

Usage (what ``make core-check`` does): a fresh venv, ``pip install -c constraints.txt .`` (no
extras), then ``python scripts/check_core_install.py``. Exits 1 with the reason on failure.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys


def main() -> int:
    extra = [name for name in ("matplotlib", "tqdm", "sklearn") if importlib.util.find_spec(name) is not None]
    if extra:
        print(f"not a core-only environment: {', '.join(extra)} installed", file=sys.stderr)
        return 1
    import torch

    import dlor
    from dlor.nn import DLoRLinear

    g = torch.Generator().manual_seed(0)
    M = dlor.DLoR(
        torch.tensor(2.0, dtype=torch.float64),
        torch.randn(6, 2, generator=g, dtype=torch.float64),
        torch.randn(6, 2, generator=g, dtype=torch.float64),
    )
    b = torch.randn(6, dtype=torch.float64, generator=g)
    x = M.solve(b)
    residual = float((M.to_dense() @ x - b).norm() / b.norm())
    layer = DLoRLinear(8, 8, rank=2)
    y = layer(torch.randn(4, 8, generator=g))
    y.square().sum().backward()
    factors = dlor.multiplicative_decompose(torch.randn(6, 6, generator=g, dtype=torch.float64), 2)
    ok = residual < 1e-12 and layer.U.grad is not None and len(factors) == 3
    run = subprocess.run([sys.executable, "-m", "dlor", "reproduce", "--budget", "tiny"], capture_output=True, text=True)
    names_extra = run.returncode == 2 and "experiments extra" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    print(
        f"core only: DLoR solve residual {residual:.1e}, DLoRLinear forward and backward, multiplicative_decompose "
        f"({len(factors)} factors); dlor reproduce names the extra: {names_extra}"
    )
    return 0 if ok and names_extra else 1


if __name__ == "__main__":
    raise SystemExit(main())
