r"""The model families of Section 6.2 / Appendix H.2: deep DLoR, wide DLoR and dense MLPs."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .._errors import DLoRError
from .._matrix import dlor_linear

__all__ = ["DeepDLoR", "WideDLoR", "MLP", "rank_for", "FamilyInit", "INITS", "family_init", "ACTIVATIONS", "activation_module"]

# The activation rho of every family: "softplus" as in Appendix H.2; "relu" makes the network
# piecewise linear, so that its linear pieces can be counted exactly (dlor.expressivity).
ACTIVATIONS = ("softplus", "relu")


def activation_module(name: str) -> nn.Module:
    """``nn.Softplus()`` or ``nn.ReLU()`` for ``name`` in [`ACTIVATIONS`][dlor.nn._families.ACTIVATIONS]."""
    if name not in ACTIVATIONS:
        raise DLoRError(f"unknown activation {name!r}; choose one of {list(ACTIVATIONS)}")
    return nn.Softplus() if name == "softplus" else nn.ReLU()


def rank_for(k: int, width: int = 16) -> int:
    """``r_k = ceil(width / k)`` (Appendix H.2)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise DLoRError(f"k (number of substructures) must be a positive integer, got {k!r}")
    return math.ceil(width / k)


@dataclass(frozen=True)
class FamilyInit:
    """How the deep and wide models of Appendix H.2 are initialised (the paper does not say).

    The dense input and output layers always start as ``nn.Linear`` does; these fields cover
    only what the paper's formulas introduce.
    """

    alpha: float = 1.0  # deep: the shared alpha (alpha = 1: every DLoR layer starts near the identity)
    wide_alpha: float | None = None  # wide: every alpha_l; None = 1/k (the branch sum starts at one branch's scale)
    factors: str = "scaled_normal"  # "scaled_normal": V ~ N(0, 1/n), U ~ N(0, 1/(3r)), as DLoRLinear;
    #                                 "linear": U, V as nn.Linear weights, U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    factor_scale: float = 1.0  # multiplies U and V after drawing them
    bias: str = "uniform"  # the DLoR layers' biases: "uniform" U(-1/sqrt(width), 1/sqrt(width)) as nn.Linear, or "zeros"

    def __post_init__(self) -> None:
        if self.factors not in ("scaled_normal", "linear"):
            raise DLoRError(f"FamilyInit.factors must be 'scaled_normal' or 'linear', got {self.factors!r}")
        if self.bias not in ("uniform", "zeros"):
            raise DLoRError(f"FamilyInit.bias must be 'uniform' or 'zeros', got {self.bias!r}")


# Named initialisations of the H.2 families. "library" is this library's default (the one of
# DLoRLinear); "h1-linear" is a second plausible reading: alpha = 0.8 (the value Appendix H.1
# uses for its deep constructions), alpha_l = 1 (H.1's beta_l), and every factor and bias drawn
# as nn.Linear draws its weights, as a hand-written PyTorch model would.
INITS: dict[str, FamilyInit] = {
    "library": FamilyInit(),
    "h1-linear": FamilyInit(alpha=0.8, wide_alpha=1.0, factors="linear"),
}


def family_init(init: str | FamilyInit | None) -> FamilyInit:
    """The [`FamilyInit`][dlor.nn.FamilyInit] named ``init`` (a key of [`INITS`][dlor.nn.INITS]), or ``init`` itself."""
    if init is None:
        return INITS["library"]
    if isinstance(init, FamilyInit):
        return init
    if init not in INITS:
        raise DLoRError(f"unknown init {init!r}; choose one of {sorted(INITS)} or pass a FamilyInit")
    return INITS[init]


def _init_factors(U: Tensor, V: Tensor, init: FamilyInit) -> None:
    """Draw ``U`` (..., m, r) and ``V`` (..., n, r) in place: ``V`` first, then ``U``."""
    if init.factors == "scaled_normal":  # as DLoRLinear
        nn.init.normal_(V, std=1.0 / math.sqrt(V.shape[-2]))
        nn.init.normal_(U, std=1.0 / math.sqrt(3.0 * U.shape[-1]))
    else:  # V^T as the weight of nn.Linear(n, r), U as that of nn.Linear(r, m)
        nn.init.uniform_(V, -1.0 / math.sqrt(V.shape[-2]), 1.0 / math.sqrt(V.shape[-2]))
        nn.init.uniform_(U, -1.0 / math.sqrt(U.shape[-1]), 1.0 / math.sqrt(U.shape[-1]))
    with torch.no_grad():
        U.mul_(init.factor_scale)
        V.mul_(init.factor_scale)


def _init_bias(b: Tensor, width: int, init: FamilyInit) -> None:
    if init.bias == "zeros":
        nn.init.zeros_(b)
    else:
        nn.init.uniform_(b, -1 / math.sqrt(width), 1 / math.sqrt(width))


class DeepDLoR(nn.Module):
    r"""Dense ``in -> width``, then ``k`` layers ``x <- rho((alpha I + U_l V_l^T) x + b_l)`` with ONE
    shared trainable ``alpha``, then dense ``width -> out`` (Appendix H.2; ``rho`` = ``activation``, softplus by default).

    Parameters (width 16, 1 -> 1): ``33 + 17 + 1 + k (2 * 16 r_k + 16)``, Table 1's "Deep" row.
    Initialisation: ``init`` (a [`INITS`][dlor.nn.INITS] name or a [`FamilyInit`][dlor.nn.FamilyInit]); the default
    "library" draws ``alpha = 1``, factors as ``DLoRLinear``, ``b_l ~ U(-1/4, 1/4)``; the dense
    layers start as ``nn.Linear`` under every init.

    Shapes: ``U``, ``V``: ``(k, width, r_k)``; ``b``: ``(k, width)``.
    """

    def __init__(
        self,
        k: int,
        width: int = 16,
        in_features: int = 1,
        out_features: int = 1,
        init: str | FamilyInit | None = None,
        activation: str = "softplus",
    ):
        super().__init__()
        init = family_init(init)
        self.act = activation_module(activation)
        self.k, self.width, self.rank = k, width, rank_for(k, width)
        self.inp = nn.Linear(in_features, width)
        self.alpha = nn.Parameter(torch.tensor(float(init.alpha)))
        self.U = nn.Parameter(torch.empty(k, width, self.rank))
        self.V = nn.Parameter(torch.empty(k, width, self.rank))
        self.b = nn.Parameter(torch.empty(k, width))
        self.out = nn.Linear(width, out_features)
        _init_factors(self.U, self.V, init)
        _init_bias(self.b, width, init)

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.inp(x))
        for l in range(self.k):
            h = self.act(dlor_linear(h, self.alpha, self.U[l], self.V[l], self.b[l]))
        out: Tensor = self.out(h)
        return out


class WideDLoR(nn.Module):
    r"""Dense ``in -> width``, then ``x_wide = rho(sum_l alpha_l rho(U_l V_l^T x + b_l) + b)``, then
    dense ``width -> out`` (Appendix H.2). Table 1's "Wide" row: ``49 + 16 + k (2 * 16 r_k + 16 + 1)``.
    Initialisation: ``init`` (see [`DeepDLoR`][dlor.nn.DeepDLoR]); the default "library" draws
    ``alpha_l = 1 / k`` (the branch sum starts at the scale of one branch), factors as
    ``DLoRLinear``, biases ``U(-1/4, 1/4)``.
    """

    def __init__(
        self,
        k: int,
        width: int = 16,
        in_features: int = 1,
        out_features: int = 1,
        init: str | FamilyInit | None = None,
        activation: str = "softplus",
    ):
        super().__init__()
        init = family_init(init)
        self.act = activation_module(activation)
        self.k, self.width, self.rank = k, width, rank_for(k, width)
        self.inp = nn.Linear(in_features, width)
        wide_alpha = 1.0 / k if init.wide_alpha is None else float(init.wide_alpha)
        self.alphas = nn.Parameter(torch.full((k,), wide_alpha))
        self.U = nn.Parameter(torch.empty(k, width, self.rank))
        self.V = nn.Parameter(torch.empty(k, width, self.rank))
        self.b_branch = nn.Parameter(torch.empty(k, width))
        self.b = nn.Parameter(torch.empty(width))
        self.out = nn.Linear(width, out_features)
        _init_factors(self.U, self.V, init)
        _init_bias(self.b_branch, width, init)
        _init_bias(self.b, width, init)

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.inp(x))  # (..., width)
        t = torch.einsum("...h,lhr->...lr", h, self.V)  # (..., k, r): all branches at once
        z = torch.einsum("...lr,lor->...lo", t, self.U) + self.b_branch  # (..., k, width)
        acc = torch.einsum("l,...lo->...o", self.alphas, self.act(z)) + self.b
        out: Tensor = self.out(self.act(acc))
        return out


class MLP(nn.Module):
    """A dense MLP with layer sizes ``widths``, e.g. ``[1, 16, 16, 1]`` (the H.2 baseline)."""

    def __init__(self, widths: list[int], activation: str = "softplus"):
        super().__init__()
        self.act = activation_module(activation)
        if len(widths) < 2 or any(not isinstance(w, int) or w < 1 for w in widths):
            raise DLoRError(f"widths must list at least two positive integers, got {widths!r}")
        self.widths = list(widths)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        out: Tensor = self.layers[-1](x)
        return out
