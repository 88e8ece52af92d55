"""The synthetic data of Appendix H.1 and H.2: a sawtooth on [-2, 2]."""

from __future__ import annotations

import torch
from torch import Tensor

FREQUENCY = 3.7  # lambda in Appendix H.1


def sawtooth(x: Tensor, frequency: float = FREQUENCY) -> Tensor:
    """``f(x) = |((lambda x) mod 2) - 1|`` (Appendix H.1)."""
    return torch.abs(torch.remainder(frequency * x, 2.0) - 1.0)


def sawtooth_data(n: int = 400, seed: int = 0, dtype=torch.float64) -> dict[str, Tensor]:
    """``n`` evenly spaced points on ``[-2, 2]``, split evenly at random into train and test.

    Returns tensors of shape ``(n/2, 1)``: ``x_train, y_train, x_test, y_test`` and the full
    sorted grid ``x_all, y_all``.
    """
    x = torch.linspace(-2.0, 2.0, n, dtype=dtype)[:, None]
    y = sawtooth(x)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    tr, te = perm[: n // 2].sort().values, perm[n // 2 :].sort().values
    return {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te], "x_all": x, "y_all": y}
