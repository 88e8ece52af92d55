r"""Dense MLP -> wide DLoR network (Theorems 3 and 6; Appendix E.2)."""

from __future__ import annotations

import torch
from torch import nn

from .._errors import DLoRError
from ..decompose import additive_decompose
from ._activation import Taylor
from ._deep import build_chain
from ._network import WideDLoRBlock, dlor_layer

__all__ = ["wide_block", "affine_wide_block", "build_wide_chain", "additive_plan"]


def default_betas(L: int) -> list[float]:
    """``beta_l = 1`` for ``l < L`` and ``beta_L = -(L - 1)`` (Appendix H.1)."""
    return [1.0] * (L - 1) + [-(L - 1.0)]


def additive_plan(rank: int):
    def decompose(W):
        comps = additive_decompose(W, rank)
        if len(comps) == 1:  # sum(beta) = 0 needs two branches: split M into M/2 + M/2
            comps = [comps[0] * 0.5, comps[0] * 0.5]
        return comps

    return decompose


def wide_block(components, b: torch.Tensor, T: Taylor, h: float, betas=None) -> list[nn.Module]:
    r"""``rho(sum_l beta_l / (h rho'(c)) rho((h / beta_l) M_l x + c 1) + b)`` (Theorem 3, E.2)."""
    L = len(components)
    betas = default_betas(L) if betas is None else [float(x) for x in betas]
    if len(betas) != L:
        raise DLoRError(f"betas has {len(betas)} entries but the decomposition has L = {L} components")
    if any(x == 0 for x in betas) or abs(sum(betas)) > 1e-12 * sum(abs(x) for x in betas):
        raise DLoRError(f"betas must be nonzero and sum to zero (Theorem 3), got {betas}")
    n = components[0].shape[0]
    cvec = torch.full((n,), T.c, dtype=b.dtype)
    branches = [dlor_layer(M, h / beta, cvec) for M, beta in zip(components, betas, strict=True)]
    coefs = [beta / (h * T.slope) for beta in betas]
    return [WideDLoRBlock(branches, coefs, b, [T.fresh() for _ in range(L)], T.fresh())]


def affine_wide_block(components, b: torch.Tensor) -> list[nn.Module]:
    """``x -> W x + b`` with ``W = sum_l M_l``: one branch per component, no activation, exact."""
    branches = [dlor_layer(M, 1.0, None) for M in components]
    return [WideDLoRBlock(branches, [1.0] * len(branches), b, [nn.Identity() for _ in branches], nn.Identity())]


def build_wide_chain(plans: list[dict], h: float, betas=None) -> nn.Sequential:
    return build_chain(
        plans, lambda p: wide_block(p["data"], p["bias"], p["T"], h, betas), lambda p: affine_wide_block(p["data"], p["bias"])
    )
