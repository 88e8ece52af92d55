"""Exception classes and input checks shared by the whole library.

Every error a user can cause derives from [`DLoRError`][dlor.DLoRError], which itself is a
``ValueError``; the message names the problem and, where one exists, the way out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads with the first check, not with the error classes
    from torch import Tensor


class DLoRError(ValueError):
    """Base class for every error raised by ``dlor`` on bad input."""


class ShapeError(DLoRError):
    """Operands have incompatible shapes."""


class DTypeError(DLoRError):
    """An operand has an unsupported dtype, or operands disagree on dtype or device."""


class NonFiniteError(DLoRError):
    """An operand contains NaN or Inf."""


class SingularMatrixError(DLoRError):
    """A matrix that must be invertible is (numerically) singular."""


class RankError(DLoRError):
    """A rank argument is out of range."""


def check_floating(name: str, t: Tensor) -> None:
    """Raise [`DTypeError`][dlor.DTypeError] unless ``t`` is a real floating-point tensor."""
    from torch import Tensor

    if not isinstance(t, Tensor):
        raise DTypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.dtype.is_floating_point:
        raise DTypeError(
            f"{name} has dtype {t.dtype}; DLoR needs a real floating dtype. Convert it first, e.g. {name}.to(torch.float64)"
        )


def check_finite(name: str, t: Tensor) -> None:
    """Raise [`NonFiniteError`][dlor.NonFiniteError] if ``t`` holds NaN or Inf.

    One pass: a NaN or an infinity makes the sum NaN or infinite, so a finite sum clears the
    tensor; only a non-finite sum (or one that overflowed) is checked element by element.
    """
    import torch

    if t.numel() and not bool(torch.isfinite(t.detach().sum())) and not bool(torch.isfinite(t).all()):
        raise NonFiniteError(f"{name} contains NaN or Inf; DLoR factors must be finite")


def check_same_dtype_device(**tensors: Tensor) -> None:
    """Raise [`DTypeError`][dlor.DTypeError] if the tensors disagree on dtype or device."""
    items = list(tensors.items())
    name0, t0 = items[0]
    for name, t in items[1:]:
        if t.dtype != t0.dtype:
            raise DTypeError(f"dtype mismatch: {name0} is {t0.dtype} but {name} is {t.dtype}; cast one of them with .to(dtype)")
        if t.device != t0.device:
            raise DTypeError(
                f"device mismatch: {name0} is on {t0.device} but {name} is on {t.device}; move one of them with .to(device)"
            )


def check_rank(rank: int) -> int:
    """Return ``rank`` as an int, or raise [`RankError`][dlor.RankError] if it is not a positive integer."""
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise RankError(f"rank must be an integer >= 1, got {rank!r}")
    return rank
