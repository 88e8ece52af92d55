"""The synthetic data of Appendix H.1 and H.2: a sawtooth on [-2, 2]."""

from __future__ import annotations

import torch
from torch import Tensor

from .._errors import DLoRError

FREQUENCY = 3.7  # lambda in Appendix H.1
TARGET_VARIANCE = 1.0 / 12.0  # of the sawtooth (uniform on [0, 1]): the MSE of predicting its mean
# "split evenly into the training and test dataset" (Appendix H.1) leaves open how:
# "random": a random half of the grid for training (seeded); "interleaved": every other point.
SPLITS = ("random", "interleaved")
N_TRAIN = 200  # training points of the default 400-point grid


def sawtooth(x: Tensor, frequency: float = FREQUENCY) -> Tensor:
    """``f(x) = |((lambda x) mod 2) - 1|`` (Appendix H.1)."""
    return torch.abs(torch.remainder(frequency * x, 2.0) - 1.0)


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise DLoRError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    return split


def sawtooth_data(
    n: int = 400, seed: int = 0, dtype=torch.float64, split: str = "random", frequency: float = FREQUENCY
) -> dict[str, Tensor]:
    """``n`` evenly spaced points on ``[-2, 2]`` of the sawtooth of ``frequency`` (lambda),
    split evenly into train and test.

    ``split="random"``: a random half (from ``seed``) trains, the other half tests; the longest
    run of consecutive grid points missing from the training set is then several points long.
    ``split="interleaved"``: the points of even index train, those of odd index test.

    Returns tensors of shape ``(n/2, 1)``: ``x_train, y_train, x_test, y_test`` and the full
    sorted grid ``x_all, y_all``.
    """
    check_split(split)
    x = torch.linspace(-2.0, 2.0, n, dtype=dtype)[:, None]
    y = sawtooth(x, frequency)
    if split == "random":
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        tr, te = perm[: n // 2].sort().values, perm[n // 2 :].sort().values
    else:
        tr, te = torch.arange(0, n, 2), torch.arange(1, n, 2)
    return {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te], "x_all": x, "y_all": y}
