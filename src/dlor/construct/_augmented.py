r"""Dense MLP -> augmented-state DLoR network of width 2N (Appendix F, Theorem 11)."""

from __future__ import annotations

import torch
from torch import nn

from .._matrix import DLoR
from ..decompose import multiplicative_decompose
from ._activation import Taylor
from ._deep import dense_stage
from ._network import TakeBottom, dlor_layer

__all__ = ["build_augmented_chain", "swap_matrix"]


def swap_matrix(N: int, eps: float, dtype) -> torch.Tensor:
    """``S_eps = [[eps I, I], [0, eps I]]``: the invertible proxy of the reset-and-swap ``[[0, I], [0, 0]]``."""
    S = eps * torch.eye(2 * N, dtype=dtype)
    S[:N, N:] += torch.eye(N, dtype=dtype)
    return S


def _rank_one_terms(W: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``W = sum_i u_i v_i^T`` from the SVD, numerically nonzero terms only (at least one)."""
    P, s, Qh = torch.linalg.svd(W.double())
    keep = s > max(W.shape) * torch.finfo(torch.float64).eps * s[0] if s[0] > 0 else s[:1] >= 0
    k = max(int(keep.sum()), 1)
    return [((P[:, i] * s[i]).to(W.dtype), Qh[i].to(W.dtype)) for i in range(k)]


def _layer(M: DLoR, T: Taylor, kind: str, h: float, bias_target=None) -> list[nn.Module]:
    """One layer of the linear-regime chain: ``enter`` (h M), ``mid`` (M / rho') or ``exit`` (I / (h rho'))."""
    n_out = M.shape[0]
    ones_in = torch.ones(M.shape[1], dtype=M.dtype)
    if kind == "enter":
        return [dlor_layer(M, h, torch.full((n_out,), T.c, dtype=M.dtype)), T.fresh()]
    if kind == "mid":
        return [dlor_layer(M, 1 / T.slope, T.c - (T.value / T.slope) * (M @ ones_in)), T.fresh()]
    return [dlor_layer(M, 1 / (h * T.slope), bias_target - (T.value / (h * T.slope)) * (M @ ones_in)), T.fresh()]


def build_augmented_chain(plans: list[dict], h: float, eps: float) -> nn.Sequential:
    r"""Each hidden ``N x N`` layer ``rho(W x + b)`` becomes ``k + 1`` layers of width ``2N``,
    ``I + u~ v~^T`` each (``k = rank W``); consecutive blocks are joined by the DLoR factors of
    ``S_eps``, which move ``rho(W x + b)`` to the top half and clear the bottom up to ``O(eps)``."""
    mods: list[nn.Module] = []
    augmented = False  # is the current representation [top; y] of width 2N?
    for p in plans:
        if p["kind"] == "dense":
            if augmented:
                mods.append(TakeBottom())
                augmented = False
            mods += dense_stage(p["stage"])
            continue
        T: Taylor = p["T"]
        W, b = p["stage"].linear.weight.detach(), p["bias"]
        N = W.shape[0]
        dt = W.dtype
        terms = _rank_one_terms(W)
        blocks = [
            DLoR(
                1.0,
                torch.cat([torch.zeros(N, dtype=dt), u])[:, None],
                torch.cat([v, torch.zeros(N, dtype=dt)])[:, None],
                validate=False,
            )
            for u, v in terms
        ]
        if augmented:  # reset and swap, then the block continues in the linear regime
            for j, F in enumerate(p["swap"]):
                mods += _layer(F, T, "enter" if j == 0 else "mid", h)
            first_kind = "mid"
        else:  # enter from the N-dimensional activations: the first weight is h M_1 restricted to [x; 0]
            M1 = blocks[0]
            blocks[0] = DLoR(M1.alpha, M1.U, M1.V[:N], validate=False)  # (2N, N) = M_1 I_{2N x N}
            first_kind = "enter"
        for i, M in enumerate(blocks):
            mods += _layer(M, T, first_kind if i == 0 else "mid", h)
        eye = DLoR(1.0, torch.zeros(2 * N, 0, dtype=dt), torch.zeros(2 * N, 0, dtype=dt), validate=False)
        mods += _layer(eye, T, "exit", h, bias_target=torch.cat([torch.zeros(N, dtype=dt), b]))
        augmented = True
    if augmented:
        mods.append(TakeBottom())
    return nn.Sequential(*mods)


def swap_factors(N: int, eps: float, dtype, rank: int = 1) -> list[DLoR]:
    return multiplicative_decompose(swap_matrix(N, eps, dtype), rank)
