r"""Telgarsky's depth separation inside the DLoR family: the deep network of ``L`` rank-1 DLoR
components that equals the sawtooth with ``2^L`` linear pieces on ``[0, 1]``.

The tent map ``T(s) = 2 relu(s) - 4 relu(s - 1/2)`` folds ``[0, 1]`` onto itself (``T(s) = 2s``
for ``s <= 1/2``, ``2 - 2s`` above), and ``T^L`` is a sawtooth with ``2^L`` linear pieces
(``2^(L-1)`` teeth): with ``m = (2^L x) mod 2``, ``T^L(x) = min(m, 2 - m) = 1 - f(x)``, where
``f(x) = |((lambda x) mod 2) - 1|`` is the paper's sawtooth of Appendix H.1 at ``lambda = 2^L``. On a width-2 hidden state
``h = (relu(s), relu(s - 1/2))`` one more fold is the map

    h <- relu(u v^T h + b),  u = (1, 1),  v = (2, -4),  b = (0, -1/2),

whose hidden-to-hidden matrix ``u v^T`` has rank 1: a DLoR component ``alpha I + u v^T`` with
``alpha = 0``. The network

    x -> h_0 = relu((1, 1) x) -> [L DLoR components, rank 1, alpha = 0] -> (2, -4) . h

computes ``T^L(x)`` on ``[0, 1]``: the first component splits ``h_0 = (x, x)`` into
``(x, relu(x - 1/2))`` (``v = (1, 0)``), each further one folds once, and the output layer folds
the last time. Parameters: ``4`` (input layer) ``+ 7 L`` (``alpha``, ``u``, ``v``, ``b`` per
component) ``+ 3`` (output), i.e. ``7 L + 7 = 1 + O(L)``; a network that is only wide needs
exponentially many ([`smallest_wide_network`][dlor.expressivity.smallest_wide_network]).

Paper: Appendix D (depth against width); Telgarsky 2016, "Benefits of depth in neural networks".
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._errors import DLoRError
from ..nn import DLoRLinear

__all__ = ["sawtooth_network", "tent_power", "sawtooth_network_params"]


def _check_depth(L: int) -> int:
    if isinstance(L, bool) or not isinstance(L, int) or L < 1:
        raise DLoRError(f"L (the number of DLoR components) must be an integer >= 1, got {L!r}")
    return L


def tent_power(x: Tensor, L: int) -> Tensor:
    """The closed form ``T^L(x) = min(m, 2 - m)``, ``m = (2^L x) mod 2``, on ``[0, 1]``: ``2^L``
    linear pieces. Every operation is exact in binary floating point (scaling by ``2^L``, the
    remainder by 2, and ``2 - m`` for ``m >= 1``), so this is ``T^L`` of the float ``x`` to the bit."""
    _check_depth(L)
    m = torch.remainder(x * 2.0**L, 2.0)
    return torch.minimum(m, 2.0 - m)


def sawtooth_network_params(L: int) -> int:
    """Parameters of [`sawtooth_network`][dlor.expressivity.sawtooth_network] ``(L)``: ``7 L + 7``."""
    return 7 * _check_depth(L) + 7


def _component(v: tuple[float, float], dtype: torch.dtype) -> DLoRLinear:
    """``h -> relu((0 I + u v^T) h + b)``'s affine part, ``u = (1, 1)``, ``b = (0, -1/2)``."""
    layer = DLoRLinear(2, 2, rank=1, alpha_trainable=False, alpha_init=0.0, dtype=dtype)
    with torch.no_grad():
        layer.U.copy_(torch.tensor([[1.0], [1.0]], dtype=dtype))
        layer.V.copy_(torch.tensor([[v[0]], [v[1]]], dtype=dtype))
        assert layer.bias is not None
        layer.bias.copy_(torch.tensor([0.0, -0.5], dtype=dtype))
    return layer


def sawtooth_network(L: int, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    r"""The deep DLoR network of ``L`` rank-1 components (width 2, ``alpha = 0``) that equals
    ``T^L`` ([`tent_power`][dlor.expressivity.tent_power], ``2^L`` linear pieces) on ``[0, 1]``; see the module docstring.

    Args:
        L: the number of DLoR components, ``>= 1``.
        dtype: of the parameters (float64: the output equals the closed form to rounding).

    Returns:
        ``nn.Sequential(Linear(1, 2), ReLU, [DLoRLinear(2, 2, rank=1), ReLU] * L, Linear(2, 1))``.
        Input ``(..., 1)``, output ``(..., 1)``.
    """
    _check_depth(L)
    inp = nn.Linear(1, 2, dtype=dtype)
    out = nn.Linear(2, 1, dtype=dtype)
    with torch.no_grad():
        inp.weight.copy_(torch.tensor([[1.0], [1.0]], dtype=dtype))
        inp.bias.zero_()
        out.weight.copy_(torch.tensor([[2.0, -4.0]], dtype=dtype))
        out.bias.zero_()
    layers: list[nn.Module] = [inp, nn.ReLU()]
    for l in range(L):
        layers += [_component((1.0, 0.0) if l == 0 else (2.0, -4.0), dtype), nn.ReLU()]
    return nn.Sequential(*layers, out)
