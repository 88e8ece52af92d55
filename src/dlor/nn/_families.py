r"""The model families of Section 6.2 / Appendix H.2: deep DLoR, wide DLoR and dense MLPs."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .._errors import DLoRError
from .._matrix import dlor_linear

__all__ = ["DeepDLoR", "WideDLoR", "MLP", "rank_for"]


def rank_for(k: int, width: int = 16) -> int:
    """``r_k = ceil(width / k)`` (Appendix H.2)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise DLoRError(f"k (number of substructures) must be a positive integer, got {k!r}")
    return math.ceil(width / k)


def _init_factors(U: Tensor, V: Tensor) -> None:
    """As :class:`~dlor.nn.DLoRLinear`: ``V ~ N(0, 1/n)``, ``U ~ N(0, 1/(3r))``."""
    nn.init.normal_(V, std=1.0 / math.sqrt(V.shape[-2]))
    nn.init.normal_(U, std=1.0 / math.sqrt(3.0 * U.shape[-1]))


class DeepDLoR(nn.Module):
    r"""Dense ``in -> width``, then ``k`` layers ``x <- rho((alpha I + U_l V_l^T) x + b_l)`` with ONE
    shared trainable ``alpha``, then dense ``width -> out`` (Appendix H.2; ``rho`` = softplus).

    Parameters (width 16, 1 -> 1): ``33 + 17 + 1 + k (2 * 16 r_k + 16)``, Table 1's "Deep" row.
    Initialisation: ``alpha = 1``, factors as ``DLoRLinear``, ``b_l ~ U(-1/4, 1/4)``, dense layers
    as ``nn.Linear``.

    Shapes: ``U``, ``V``: ``(k, width, r_k)``; ``b``: ``(k, width)``.
    """

    def __init__(self, k: int, width: int = 16, in_features: int = 1, out_features: int = 1):
        super().__init__()
        self.k, self.width, self.rank = k, width, rank_for(k, width)
        self.inp = nn.Linear(in_features, width)
        self.alpha = nn.Parameter(torch.ones(()))
        self.U = nn.Parameter(torch.empty(k, width, self.rank))
        self.V = nn.Parameter(torch.empty(k, width, self.rank))
        self.b = nn.Parameter(torch.empty(k, width))
        self.out = nn.Linear(width, out_features)
        _init_factors(self.U, self.V)
        nn.init.uniform_(self.b, -1 / math.sqrt(width), 1 / math.sqrt(width))
        self.act = nn.Softplus()

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.inp(x))
        for l in range(self.k):
            h = self.act(dlor_linear(h, self.alpha, self.U[l], self.V[l], self.b[l]))
        return self.out(h)


class WideDLoR(nn.Module):
    r"""Dense ``in -> width``, then ``x_wide = rho(sum_l alpha_l rho(U_l V_l^T x + b_l) + b)``, then
    dense ``width -> out`` (Appendix H.2). Table 1's "Wide" row: ``49 + 16 + k (2 * 16 r_k + 16 + 1)``.
    Initialisation: ``alpha_l = 1 / k`` (the branch sum starts at the scale of one branch), factors
    as ``DLoRLinear``, biases ``U(-1/4, 1/4)``.
    """

    def __init__(self, k: int, width: int = 16, in_features: int = 1, out_features: int = 1):
        super().__init__()
        self.k, self.width, self.rank = k, width, rank_for(k, width)
        self.inp = nn.Linear(in_features, width)
        self.alphas = nn.Parameter(torch.full((k,), 1.0 / k))
        self.U = nn.Parameter(torch.empty(k, width, self.rank))
        self.V = nn.Parameter(torch.empty(k, width, self.rank))
        self.b_branch = nn.Parameter(torch.empty(k, width))
        self.b = nn.Parameter(torch.empty(width))
        self.out = nn.Linear(width, out_features)
        _init_factors(self.U, self.V)
        bound = 1 / math.sqrt(width)
        nn.init.uniform_(self.b_branch, -bound, bound)
        nn.init.uniform_(self.b, -bound, bound)
        self.act = nn.Softplus()

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.inp(x))  # (..., width)
        t = torch.einsum("...h,lhr->...lr", h, self.V)  # (..., k, r): all branches at once
        z = torch.einsum("...lr,lor->...lo", t, self.U) + self.b_branch  # (..., k, width)
        acc = torch.einsum("l,...lo->...o", self.alphas, self.act(z)) + self.b
        return self.out(self.act(acc))


class MLP(nn.Module):
    """A dense softplus MLP with layer sizes ``widths``, e.g. ``[1, 16, 16, 1]`` (the H.2 baseline)."""

    def __init__(self, widths: list[int]):
        super().__init__()
        if len(widths) < 2 or any(not isinstance(w, int) or w < 1 for w in widths):
            raise DLoRError(f"widths must list at least two positive integers, got {widths!r}")
        self.widths = list(widths)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.act = nn.Softplus()

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        return self.layers[-1](x)
