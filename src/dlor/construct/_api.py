r"""Public entry points of the compiler: ``to_deep``, ``to_wide``, ``to_augmented``.

A compiled network reproduces the dense MLP up to a truncation error that falls with ``h``
(``O(h)``; ``O(h^2)`` at an inflection point of the activation) and a rounding error that
grows like ``eps(dtype) * rho(c) / (h rho'(c))``. ``h="auto"`` measures the error against the
dense MLP on a sample of inputs over a grid of quarter decades and keeps the best ``h``.
``order=2`` builds two chains at ``h`` and ``h/2`` and combines them at the readout with
Richardson weights, cancelling the leading truncation term; every hidden weight stays DLoR.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from .._errors import DLoRError, check_rank
from ..decompose import additive_decompose
from ._augmented import build_augmented_chain, swap_factors
from ._deep import build_deep_chain, multiplicative_plan, plan_stages
from ._network import CompiledNetwork
from ._parse import parse_mlp
from ._wide import additive_plan, build_wide_chain

__all__ = ["to_deep", "to_wide", "to_augmented", "max_abs_error", "H_GRID"]

H_GRID = [float(x) for x in 10.0 ** np.arange(-1.0, -12.01, -0.25)]  # h="auto" search grid


def _sample(mlp_stages, sample, box, dtype) -> Tensor:
    if sample is not None:
        return torch.as_tensor(sample, dtype=dtype)
    d = mlp_stages[0].linear.in_features
    lo, hi = box if box is not None else (-1.0, 1.0)
    g = torch.Generator().manual_seed(0)
    return lo + (hi - lo) * torch.rand(512, d, generator=g, dtype=dtype)


def max_abs_error(net: nn.Module, dense: nn.Module, X: Tensor) -> float:
    """``max |net(X) - dense(X)|`` (the paper's metric, Section 6.1)."""
    with torch.no_grad():
        out = net(X)
        ref = dense(X)
    err = (out - ref).abs().max()
    return float(err) if torch.isfinite(err) else math.inf


def _richardson(plans, p_default: int):
    curv = [p["T"].curvature for p in plans if p["kind"] == "compiled"]
    return 2 if curv and all(abs(k) < 1e-12 for k in curv) else p_default


def _compile(mlp, plans, build, h, order, sample, box, name, extra) -> CompiledNetwork:
    if order not in (1, 2):
        raise DLoRError(f"order must be 1 (the paper's first-order scheme) or 2 (Richardson), got {order!r}")
    dtype = next(mlp.parameters()).dtype

    def make(hv: float) -> CompiledNetwork:
        if order == 1:
            return CompiledNetwork([build(hv)], [1.0], {"h": hv})
        p = _richardson(plans, 1)
        w = 2.0**p / (2.0**p - 1)
        return CompiledNetwork([build(hv / 2), build(hv)], [w, 1 - w], {"h": hv, "richardson_order": p})

    dense = [
        {"stage": p["index"], "shape": [p["stage"].linear.out_features, p["stage"].linear.in_features], "reason": p["reason"]}
        for p in plans
        if p["kind"] == "dense"
    ]
    info = {"construction": name, "order": order, "dense_layers": dense} | extra
    if isinstance(h, str):
        if h != "auto":
            raise DLoRError(f"h must be a positive number or 'auto', got {h!r}")
        X = _sample([p["stage"] for p in plans], sample, box, dtype)
        scan = [(hv, max_abs_error(make(hv), mlp, X)) for hv in H_GRID]
        best_h, best_err = min(scan, key=lambda t: t[1])
        if not math.isfinite(best_err):
            raise DLoRError("h='auto' found no h with a finite error; check the MLP and the sample")
        net = make(best_h)
        net.info.update(info | {"auto_scan": scan, "auto_error": best_err, "auto_sample_size": len(X)})
        return net
    if not (isinstance(h, (int, float)) and h > 0 and math.isfinite(h)):
        raise DLoRError(f"h must be a positive number or 'auto', got {h!r}")
    h_min = torch.finfo(dtype).eps ** 2
    if h < h_min:
        raise DLoRError(
            f"h = {h:g} is below {h_min:.1e}, the smallest scale whose compiled weights (of order 1/h) stay "
            f"finite in {dtype}; use a larger h, or h='auto'"
        )
    net = make(float(h))
    net.info.update(info)
    return net


def to_deep(
    mlp: nn.Sequential,
    rank: int,
    h,
    c: float | None = None,
    alpha: float | None = None,
    *,
    order: int = 2,
    decomposition: str = "schur",
    perturb: float | None = None,
    rectangular: str = "dense",
    sample=None,
    box=None,
    elementwise=(),
) -> CompiledNetwork:
    r"""Compile ``mlp`` into a deep DLoR network of the same width (Theorems 4, 5, 7; Appendix E.1).

    Every hidden square layer ``rho(W x + b)`` becomes ``L = ceil(N / rank)`` layers with weights
    ``h M_1, M_2 / rho'(c), ..., M_L / (h rho'(c))`` (``W = M_L ... M_1`` from
    [`multiplicative_decompose`][dlor.multiplicative_decompose]) and the compensating biases of E.1.

    Args:
        mlp: ``nn.Sequential`` of ``nn.Linear`` and elementwise activations.
        rank: rank of each factor.
        h: scale (``h -> 0`` recovers the MLP) or ``"auto"``.
        c: expansion point (Assumption 1: ``rho'(c) != 0``); default per activation, see
            [`dlor.construct.DEFAULT_C`][dlor.construct.DEFAULT_C].
        alpha: the shared diagonal of the factors (default: the decomposition's stable choice;
            the paper used 0.8).
        order: 2 (default), Richardson extrapolation over two chains at ``h`` and ``h / 2``, which
            cancels the leading truncation term (100-1,000x more accurate on Appendix H.1's MLP at
            the best ``h``); 1, the paper's first-order scheme: pass ``order=1`` to reproduce the
            paper's Figures 2(a) and 3(a). The command line uses the same default.
        decomposition: ``"schur"`` (default: its partial products, the maps between the deep
            block's layers, are as well conditioned as the weight itself), ``"hessenberg"``
            (the faster default of [`dlor.multiplicative_decompose`][dlor.multiplicative_decompose]; partial products a
            few times worse conditioned) or ``"paper"`` (literal Appendix C.3).
        perturb: move singular hidden weights to nearby invertible ones (Theorem 5's proof).
        rectangular: ``"dense"`` keeps non-square layers dense (default: they are the thin input
            and output layers, exact and cheap); ``"embed"`` compiles them via Remark 2.
        sample: inputs for ``h="auto"`` (default: 512 uniform points in ``box``).
        box: the box of those points (default ``[-1, 1]^d``).
        elementwise: extra elementwise activation module types to accept (e.g. ``(MyAct,)``).

    Raises:
        AssumptionError: the activation is affine or ``rho'(c) = 0``.
        SingularMatrixError: a hidden weight is singular (pass ``perturb``).
        DLoRError: unsupported modules (BatchNorm, Dropout in training mode, ...).
    """
    rank = check_rank(rank)
    stages = parse_mlp(mlp, elementwise)
    factor = multiplicative_plan(rank, alpha, decomposition, perturb)
    plans = plan_stages(stages, c, rectangular, factor, affine_decompose=factor)
    return _compile(
        mlp,
        plans,
        lambda hv: build_deep_chain(plans, hv),
        h,
        order,
        sample,
        box,
        "deep",
        {"rank": rank, "c": c, "alpha": alpha, "decomposition": decomposition},
    )


def to_wide(
    mlp: nn.Sequential,
    rank: int,
    h,
    c: float | None = None,
    betas=None,
    *,
    order: int = 2,
    rectangular: str = "dense",
    sample=None,
    box=None,
    elementwise=(),
) -> CompiledNetwork:
    r"""Compile ``mlp`` into a wide DLoR network (Theorems 3 and 6; Appendix E.2).

    Every hidden square layer becomes ``rho(sum_l beta_l/(h rho'(c)) rho((h/beta_l) M_l x + c) + b)``
    with ``W = sum_l M_l`` ([`additive_decompose`][dlor.additive_decompose], ``L = ceil(N / rank)``, at least 2)
    and ``sum beta_l = 0``; default ``beta = (1, ..., 1, -(L - 1))`` (Appendix H.1). Other
    arguments as in [`to_deep`][dlor.construct.to_deep].
    """
    rank = check_rank(rank)
    stages = parse_mlp(mlp, elementwise)
    plans = plan_stages(stages, c, rectangular, additive_plan(rank), affine_decompose=lambda W: additive_decompose(W, rank))
    return _compile(
        mlp,
        plans,
        lambda hv: build_wide_chain(plans, hv, betas),
        h,
        order,
        sample,
        box,
        "wide",
        {"rank": rank, "c": c, "betas": betas},
    )


def to_augmented(
    mlp: nn.Sequential, h, eps: float = 1e-6, c: float | None = None, *, order: int = 2, sample=None, box=None, elementwise=()
) -> CompiledNetwork:
    r"""Compile ``mlp`` into an augmented-state DLoR network (Appendix F, Theorem 11).

    Width ``2N``; each hidden ``N x N`` layer becomes ``rank(W) + 1`` layers whose weights are
    ``I + u~ v~^T`` (scaled), and consecutive blocks are joined by the rank-1 DLoR factors of the
    reset-and-swap proxy ``S_eps = S + eps I``, which leaves an ``O(eps)`` error.
    """
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise DLoRError(f"eps must be in (0, 1), got {eps!r}")
    stages = parse_mlp(mlp, elementwise)
    plans = plan_stages(stages, c, "dense", lambda W: None)
    for p in plans:
        if p["kind"] == "compiled":
            p["swap"] = swap_factors(p["stage"].linear.in_features, eps, p["stage"].linear.weight.dtype)
    return _compile(
        mlp, plans, lambda hv: build_augmented_chain(plans, hv, eps), h, order, sample, box, "augmented", {"eps": eps, "c": c}
    )
