r"""A scalar-input ReLU network as a list of steps: affine maps and ReLUs.

The exact piece counter ([`dlor.expressivity.count_pieces`][dlor.expressivity.count_pieces]) walks this list. Each affine
step maps the values of the previous layer at a set of input points, ``(K, n) -> (K, m)``, and
its linear part maps slopes the same way; the DLoR steps call [`dlor.dlor_linear`][dlor.dlor_linear], so the
``m x n`` matrix is never formed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import overload

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._errors import DLoRError
from .._matrix import dlor_linear
from ..nn import MLP, DeepDLoR, DLoRLinear, WideDLoR

__all__ = ["Affine", "ReLU", "relu_program"]


@dataclass(frozen=True)
class Affine:
    """``h -> A h + c`` on rows: ``linear`` is the map ``A`` (``(K, n) -> (K, m)``), ``bias`` is ``c``."""

    linear: Callable[[Tensor], Tensor]
    bias: Tensor | None

    def __call__(self, h: Tensor) -> Tensor:
        out = self.linear(h)
        return out if self.bias is None else out + self.bias


@dataclass(frozen=True)
class ReLU:
    """``h -> max(h, 0)`` elementwise."""


Step = Affine | ReLU

_PIECEWISE_LINEAR = (nn.ReLU,)
_NOT_PIECEWISE_LINEAR = (nn.Softplus, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.ELU)


def _need_relu(act: nn.Module, where: str) -> None:
    if not isinstance(act, _PIECEWISE_LINEAR):
        raise DLoRError(
            f"{where} uses {type(act).__name__}, which is not piecewise linear: counting linear pieces "
            "needs ReLU; build the network with activation='relu' (on the command line: --activation relu)"
        )


def _dense(weight: Tensor, bias: Tensor | None) -> Affine:
    def apply(h: Tensor) -> Tensor:
        return F.linear(h, weight)

    return Affine(apply, bias)


def _dlor(alpha: Tensor, U: Tensor, V: Tensor, bias: Tensor | None) -> Affine:
    return Affine(lambda h: dlor_linear(h, alpha, U, V), bias)


def _check_input_width(n: int, where: str) -> None:
    if n != 1:
        raise DLoRError(f"{where} takes {n} input features; counting pieces along a line needs a scalar input (width 1)")


def relu_program(model: nn.Module) -> list[Step]:
    """The steps of ``model``, a scalar-input ReLU network, in float64.

    Accepts [`DeepDLoR`][dlor.nn.DeepDLoR], [`WideDLoR`][dlor.nn.WideDLoR] and [`MLP`][dlor.nn.MLP]
    built with ``activation="relu"`` (Appendix H.2's families with ReLU in place of softplus),
    and ``nn.Sequential`` stacks of ``nn.Linear``, [`DLoRLinear`][dlor.nn.DLoRLinear], ``nn.ReLU``
    and ``nn.Identity``.

    Raises:
        DLoRError: an activation that is not piecewise linear (softplus, tanh, ...), an input
            width other than 1, or a module the counter does not know.
    """
    with torch.no_grad():
        if isinstance(model, DeepDLoR):
            return _deep_program(model)
        if isinstance(model, WideDLoR):
            return _wide_program(model)
        if isinstance(model, MLP):
            _need_relu(model.act, "this MLP")
            _check_input_width(model.widths[0], "this MLP")
            steps: list[Step] = []
            for i, layer in enumerate(model.layers):
                steps.append(_dense(_f64(layer.weight), _f64(layer.bias)))
                if i < len(model.layers) - 1:
                    steps.append(ReLU())
            return steps
        if isinstance(model, nn.Sequential):
            return _sequential_program(model)
    raise DLoRError(
        f"cannot count the pieces of a {type(model).__name__}; pass a DeepDLoR, WideDLoR or MLP built with "
        "activation='relu', or an nn.Sequential of Linear, DLoRLinear and ReLU layers"
    )


@overload
def _f64(t: None) -> None: ...
@overload
def _f64(t: Tensor | nn.Module) -> Tensor: ...
def _f64(t: Tensor | nn.Module | None) -> Tensor | None:
    """``t`` detached in float64 (a parameter or buffer read off a module; None stays None)."""
    if t is None:
        return None
    assert isinstance(t, Tensor), f"expected a tensor, got {type(t).__name__}"
    return t.detach().to(torch.float64)


def _deep_program(model: DeepDLoR) -> list[Step]:
    _need_relu(model.act, "this DeepDLoR")
    _check_input_width(model.inp.in_features, "this DeepDLoR")
    alpha = _f64(model.alpha)
    steps: list[Step] = [_dense(_f64(model.inp.weight), _f64(model.inp.bias)), ReLU()]
    for l in range(model.k):
        steps += [_dlor(alpha, _f64(model.U[l]), _f64(model.V[l]), _f64(model.b[l])), ReLU()]
    return [*steps, _dense(_f64(model.out.weight), _f64(model.out.bias))]


def _wide_program(model: WideDLoR) -> list[Step]:
    r"""``h -> rho(sum_l alpha_l rho(U_l V_l^T h + b_l) + b)`` as two affine steps: the ``k``
    branches side by side (``(K, w) -> (K, k w)``), then their weighted sum (``(K, k w) -> (K, w)``)."""
    _need_relu(model.act, "this WideDLoR")
    _check_input_width(model.inp.in_features, "this WideDLoR")
    U, V, alphas = _f64(model.U), _f64(model.V), _f64(model.alphas)  # (k, w, r), (k, w, r), (k,)
    k, w = model.k, model.width

    def branches(h: Tensor) -> Tensor:
        t = torch.einsum("nh,lhr->nlr", h, V)  # (K, k, r) = V_l^T h for every branch
        return torch.einsum("nlr,lor->nlo", t, U).reshape(h.shape[0], k * w)  # (K, k w)

    def weighted_sum(z: Tensor) -> Tensor:
        return torch.einsum("l,nlo->no", alphas, z.reshape(z.shape[0], k, w))  # (K, w)

    return [
        _dense(_f64(model.inp.weight), _f64(model.inp.bias)),
        ReLU(),
        Affine(branches, _f64(model.b_branch).reshape(k * w)),
        ReLU(),
        Affine(weighted_sum, _f64(model.b)),
        ReLU(),
        _dense(_f64(model.out.weight), _f64(model.out.bias)),
    ]


def _sequential_program(model: nn.Sequential) -> list[Step]:
    steps: list[Step] = []
    first = True
    for i, layer in enumerate(model):
        where = f"layer {i} ({type(layer).__name__}) of this nn.Sequential"
        if isinstance(layer, nn.Identity):
            continue
        if isinstance(layer, nn.Linear):
            if first:
                _check_input_width(layer.in_features, where)
            steps.append(_dense(_f64(layer.weight), _f64(layer.bias)))
            first = False
        elif isinstance(layer, DLoRLinear):
            if first:
                _check_input_width(layer.in_features, where)
            steps.append(_dlor(_f64(layer.alpha), _f64(layer.U), _f64(layer.V), _f64(layer.bias)))
            first = False
        elif isinstance(layer, nn.ReLU):
            steps.append(ReLU())
        elif isinstance(layer, _NOT_PIECEWISE_LINEAR):
            _need_relu(layer, where)
        else:
            raise DLoRError(f"{where} is not supported by the piece counter; use Linear, DLoRLinear, ReLU or Identity")
    if not steps:
        raise DLoRError("this nn.Sequential has no layers to count")
    return steps
