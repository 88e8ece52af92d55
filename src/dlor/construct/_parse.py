"""Read a dense MLP (``nn.Sequential`` of ``nn.Linear`` and elementwise activations) into stages."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from torch import nn

from .._errors import DLoRError
from ._activation import ELEMENTWISE

__all__ = ["Stage", "parse_mlp"]


@dataclass
class Stage:
    """``x -> act(linear(x))``; ``act`` is ``None`` for the readout."""

    linear: nn.Linear
    act: nn.Module | None

    @property
    def square(self) -> bool:
        return self.linear.in_features == self.linear.out_features


def parse_mlp(mlp: nn.Module, elementwise: tuple = ()) -> list[Stage]:
    """Split ``mlp`` into stages; raise a clear error for anything the compiler cannot handle.

    Args:
        mlp: an ``nn.Sequential`` of ``nn.Linear`` and elementwise activations (Softplus, Tanh,
            Sigmoid, GELU, SiLU, ELU, ReLU, LeakyReLU). ``Dropout`` in eval mode and
            ``Identity`` are skipped.
        elementwise: extra module types the user vouches are elementwise.
    """
    if not isinstance(mlp, nn.Sequential):
        raise DLoRError(f"expected an nn.Sequential of Linear and activation modules, got {type(mlp).__name__}")
    extra_types = tuple(elementwise)
    if not all(isinstance(t, type) and issubclass(t, nn.Module) for t in extra_types):
        raise DLoRError(f"elementwise must list nn.Module subclasses, got {elementwise!r}")
    stages: list[Stage] = []
    for i, mod in enumerate(mlp):
        if isinstance(mod, nn.Linear):
            stages.append(Stage(copy.deepcopy(mod), None))
        elif isinstance(mod, ELEMENTWISE + extra_types):
            if not stages or stages[-1].act is not None:
                raise DLoRError(f"module {i} ({mod}) is an activation that does not follow a Linear layer")
            stages[-1].act = copy.deepcopy(mod)
        elif isinstance(mod, nn.Dropout):
            if mod.training and mod.p > 0:
                raise DLoRError(f"module {i} is Dropout in training mode; call mlp.eval() first")
        elif isinstance(mod, nn.Identity):
            continue
        else:
            raise DLoRError(
                f"module {i} ({type(mod).__name__}) is not supported: the compiler takes Linear layers and "
                f"elementwise activations only (fold normalisation layers into the Linear weights first, "
                f"or pass elementwise=(YourActivation,) if it is elementwise)"
            )
    if not stages:
        raise DLoRError("the MLP has no Linear layer")
    return stages
