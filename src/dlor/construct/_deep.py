r"""Dense MLP -> deep DLoR network (Theorems 4, 5 and 7; layer formulas of Appendix E.1)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from .._errors import DLoRError, SingularMatrixError
from ..decompose import embed_square, multiplicative_decompose
from ._activation import Taylor, taylor
from ._network import Pad, Truncate, dlor_layer
from ._parse import Stage

__all__ = ["deep_block", "plan_stages"]


def plan_stages(stages: list[Stage], c, rectangular: str, decompose) -> list[dict]:
    """For each stage: kept dense, or the data a compiled block needs (computed once, reused for every h)."""
    if rectangular not in ("dense", "embed"):
        raise DLoRError(f"rectangular must be 'dense' or 'embed', got {rectangular!r}")
    plans = []
    for i, st in enumerate(stages):
        lin = st.linear
        compile_it = st.act is not None and (st.square or rectangular == "embed")
        if not compile_it:
            plans.append({"kind": "dense", "stage": st})
            continue
        W = lin.weight.detach()
        b = lin.bias.detach() if lin.bias is not None else torch.zeros(lin.out_features, dtype=W.dtype)
        m, n = W.shape
        D = max(m, n)
        if m != n:
            W = embed_square(W)
            b = nn.functional.pad(b, (0, D - m))
        try:
            data = decompose(W)
        except SingularMatrixError as err:
            raise SingularMatrixError(
                f"hidden layer {i} ({lin}) has a singular weight: {err}. Pass perturb=eps "
                f"(e.g. perturb=1e-8) to compile a nearby invertible layer (Theorem 5)"
            ) from None
        plans.append({"kind": "compiled", "stage": st, "T": taylor(st.act, c), "data": data, "bias": b,
                      "pad": D if n < D else None, "truncate": m if m < D else None})
    return plans


def deep_block(factors, b: torch.Tensor, T: Taylor, h: float) -> list[nn.Module]:
    r"""Layers simulating ``rho(W x + b)`` with ``W = M_L ... M_1`` (Appendix E.1).

    ``l = 1``: weight ``h M_1``, bias ``c 1``. ``1 < l < L``: weight ``M_l / rho'(c)``, bias
    ``c 1 - (rho(c) / rho'(c)) M_l 1``. ``l = L``: weight ``M_L / (h rho'(c))``, bias
    ``b - (rho(c) / (h rho'(c))) M_L 1``. Each layer is followed by ``rho``.
    """
    L = len(factors)
    if L == 1:
        return [dlor_layer(factors[0], 1.0, b), T.fresh()]
    n = factors[0].shape[1]
    ones = torch.ones(n, dtype=b.dtype)
    mods: list[nn.Module] = []
    for l, M in enumerate(factors, start=1):
        M1 = M @ ones
        if l == 1:
            scale, bias = h, T.c * ones
        elif l < L:
            scale, bias = 1.0 / T.slope, T.c * ones - (T.value / T.slope) * M1
        else:
            scale, bias = 1.0 / (h * T.slope), b - (T.value / (h * T.slope)) * M1
        mods += [dlor_layer(M, scale, bias), T.fresh()]
    return mods


def dense_stage(st: Stage) -> list[nn.Module]:
    """Fresh copies of a stage kept dense (each chain owns its modules)."""
    return [copy.deepcopy(st.linear)] + ([copy.deepcopy(st.act)] if st.act is not None else [])


def build_chain(plans: list[dict], block) -> nn.Sequential:
    """Dense stages copied, compiled stages replaced by ``block(plan)`` (padded/truncated by Remark 2)."""
    mods: list[nn.Module] = []
    for p in plans:
        if p["kind"] == "dense":
            mods += dense_stage(p["stage"])
            continue
        if p["pad"]:
            mods.append(Pad(p["pad"]))
        mods += block(p)
        if p["truncate"]:
            mods.append(Truncate(p["truncate"]))
    return nn.Sequential(*mods)


def build_deep_chain(plans: list[dict], h: float) -> nn.Sequential:
    return build_chain(plans, lambda p: deep_block(p["data"], p["bias"], p["T"], h))


def multiplicative_plan(rank: int, alpha, method: str, perturb):
    def decompose(W):
        return multiplicative_decompose(W, rank, alpha, method=method, perturb=perturb)

    return decompose
