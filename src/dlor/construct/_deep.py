r"""Dense MLP -> deep DLoR network (Theorems 4, 5 and 7; layer formulas of Appendix E.1)."""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from .._errors import DLoRError, SingularMatrixError
from ..decompose import embed_square, multiplicative_decompose
from ._activation import Taylor, taylor
from ._network import Pad, Truncate, dlor_layer
from ._parse import Stage

__all__ = ["deep_block", "affine_deep_block", "plan_stages"]


def plan_stages(stages: list[Stage], c, rectangular: str, decompose, affine_decompose=None) -> list[dict]:
    """For each stage: kept dense, or the data a compiled block needs (computed once, reused for every h).

    A stage with an activation becomes a compiled block (the h-scheme). A stage without one (the
    readout, or a hidden layer whose activation was ``nn.Identity``) is affine: when
    ``affine_decompose`` is given it is factored exactly (``kind="affine"``: no h, no truncation
    error), else kept dense with a warning. A rectangular stage stays dense under
    ``rectangular="dense"``, the documented default for the thin input and output layers. Every
    stage kept dense carries its ``reason``, which ``CompiledNetwork.stats()`` lists.
    """
    if rectangular not in ("dense", "embed"):
        raise DLoRError(f"rectangular must be 'dense' or 'embed', got {rectangular!r}")
    plans = []
    for i, st in enumerate(stages):
        lin = st.linear
        shape = f"{lin.in_features} -> {lin.out_features}"
        if not (st.square or rectangular == "embed"):
            plans.append(
                {"kind": "dense", "stage": st, "index": i, "reason": f"rectangular ({shape}); rectangular='dense' keeps it dense"}
            )
            continue
        affine = st.act is None
        if affine and affine_decompose is None:
            reason = f"affine ({shape}, no activation): this construction has no exact factoring of it"
            warnings.warn(f"stage {i} ({lin}) is left dense: {reason}", UserWarning, stacklevel=3)
            plans.append({"kind": "dense", "stage": st, "index": i, "reason": reason})
            continue
        W = lin.weight.detach()
        b = lin.bias.detach() if lin.bias is not None else torch.zeros(lin.out_features, dtype=W.dtype)
        m, n = W.shape
        D = max(m, n)
        if m != n:
            W = embed_square(W)
            b = nn.functional.pad(b, (0, D - m))
        try:
            data = (affine_decompose if affine else decompose)(W)
        except SingularMatrixError as err:
            raise SingularMatrixError(
                f"{'affine' if affine else 'hidden'} layer {i} ({lin}) has a singular weight: {err}. Pass perturb=eps "
                f"(e.g. perturb=1e-8) to compile a nearby invertible layer (Theorem 5)"
            ) from None
        plan = {
            "kind": "affine" if affine else "compiled",
            "stage": st,
            "index": i,
            "data": data,
            "bias": b,
            "pad": D if n < D else None,
            "truncate": m if m < D else None,
        }
        if not affine:
            assert st.act is not None  # a stage with an activation is not affine
            plan["T"] = taylor(st.act, c)
        plans.append(plan)
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


def build_chain(plans: list[dict], block, affine_block=None) -> nn.Sequential:
    """Dense stages copied, compiled stages replaced by ``block(plan)`` and affine ones by
    ``affine_block(plan)`` (both padded/truncated by Remark 2)."""
    mods: list[nn.Module] = []
    for p in plans:
        if p["kind"] == "dense":
            mods += dense_stage(p["stage"])
            continue
        if p["pad"]:
            mods.append(Pad(p["pad"]))
        mods += affine_block(p) if p["kind"] == "affine" else block(p)
        if p["truncate"]:
            mods.append(Truncate(p["truncate"]))
    return nn.Sequential(*mods)


def affine_deep_block(factors, b: torch.Tensor) -> list[nn.Module]:
    """``x -> W x + b`` with ``W = M_L ... M_1``: ``L`` DLoR layers and no activation, exact."""
    return [dlor_layer(M, 1.0, b if l == len(factors) else None) for l, M in enumerate(factors, start=1)]


def build_deep_chain(plans: list[dict], h: float) -> nn.Sequential:
    return build_chain(
        plans, lambda p: deep_block(p["data"], p["bias"], p["T"], h), lambda p: affine_deep_block(p["data"], p["bias"])
    )


def multiplicative_plan(rank: int, alpha, method: str, perturb):
    def decompose(W):
        return multiplicative_decompose(W, rank, alpha, method=method, perturb=perturb)

    return decompose
