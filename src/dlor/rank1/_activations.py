"""Named elementwise activations, shared by the rank-1 constructors and the compiler."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .._errors import DLoRError

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "heaviside": lambda x: torch.heaviside(x, torch.ones((), dtype=x.dtype)),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softplus": torch.nn.functional.softplus,
    "relu": torch.relu,
    "gelu": torch.nn.functional.gelu,
    "silu": torch.nn.functional.silu,
    "elu": torch.nn.functional.elu,
}


def resolve_activation(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """A callable for a name in [`ACTIVATIONS`][dlor.rank1.ACTIVATIONS], or the callable itself."""
    if callable(activation):
        return activation
    try:
        return ACTIVATIONS[str(activation).lower()]
    except KeyError:
        raise DLoRError(f"unknown activation {activation!r}; use one of {sorted(ACTIVATIONS)} or pass a callable") from None
