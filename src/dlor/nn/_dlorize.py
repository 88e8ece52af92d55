r"""``dlorize``: swap the ``nn.Linear`` layers of any model for DLoR layers, in place (Appendix G)."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from .._errors import DLoRError, RankError, check_rank
from .._matrix import DLoR, dlor_linear, fit_last_dim
from ._linear import DLoRLinear
from ._targets import replace_module as _replace
from ._targets import select_linear as _select

__all__ = ["dlorize", "DLoRChain"]


class DLoRChain(nn.Module):
    r"""``y = I_{m x D} (M_L ... M_1) I_{D x n} x + b``: a dense weight replaced exactly by DLoR factors.

    The factors come from [`multiplicative_decompose`][dlor.multiplicative_decompose] of ``W`` (embedded by Remark 2
    when rectangular); there is no nonlinearity between them, so the output equals ``W x + b``
    up to rounding. ``.weight`` gives the dense product for code that reads it.
    """

    def __init__(self, factors: list[DLoR], in_features: int, out_features: int, bias: Tensor | None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        D = factors[0].shape[0]
        self.factors = nn.ModuleList()
        self._layers: list[DLoRLinear] = []  # the same modules, typed
        for M in factors:
            layer = DLoRLinear.from_dlor(M)
            self.factors.append(layer)
            self._layers.append(layer)
        self.bias = nn.Parameter(bias.detach().clone()) if bias is not None else None
        self.D = D

    def forward(self, x: Tensor) -> Tensor:
        h = self.forward_no_bias(x)
        return h + self.bias if self.bias is not None else h

    @property
    def weight(self) -> Tensor:
        """Dense ``(out_features, in_features)`` view (computed on access)."""
        first = self._layers[0]
        eye = torch.eye(self.in_features, dtype=first.U.dtype, device=first.U.device)
        return self.forward_no_bias(eye).T

    def forward_no_bias(self, x: Tensor) -> Tensor:
        """``I_{m x D} (M_L ... M_1) I_{D x n} x``, shape ``(..., out_features)``."""
        h = fit_last_dim(x, self.D)
        for f in self._layers:
            h = dlor_linear(h, f.alpha, f.U, f.V)
        return fit_last_dim(h, self.out_features)


def dlorize(
    model: nn.Module,
    rank: int,
    include: str | list[str] | None = None,
    exclude: str | list[str] | None = None,
    init: str = "random",
) -> list[dict[str, Any]]:
    r"""Replace the matching ``nn.Linear`` modules of ``model`` by DLoR layers, in place.

    Args:
        model: any ``nn.Module`` (nested models such as ``nn.TransformerEncoder`` included).
        rank: rank of the low-rank part (``>= 1``).
        include: module-name patterns, globs (``"layers.*.linear1"``) or regexes
            prefixed by ``"re:"``; default: every ``nn.Linear``.
        exclude: patterns of the same kind to leave out.
        init: ``"random"``: [`DLoRLinear`][dlor.nn.DLoRLinear]'s documented initialisation, for training from
            scratch; ``"nearest"``: [`nearest_dlor`][dlor.nearest_dlor] of the existing weight (the best
            ``alpha I + U V^T`` in Frobenius norm); ``"exact"``: a [`DLoRChain`][dlor.nn.DLoRChain] of the
            weight's multiplicative DLoR factors (Theorem 4), equal to the original up to rounding;
            a singular weight raises [`SingularMatrixError`][dlor.SingularMatrixError] naming the module, and a
            float16 or bfloat16 weight raises (the factors' rounding would compound; convert
            to float32 first). ``"nearest"`` and ``"exact"`` compute in float64 and cast back.

    Returns:
        one dict per replaced module: ``name``, ``shape``, ``rank``, ``params_before``,
        ``params_after``, ``init``.

    Dtype, device and ``requires_grad`` of the original weight carry over; excluded and
    non-matching modules are untouched.
    """
    if not isinstance(model, nn.Module):
        raise DLoRError(f"dlorize takes an nn.Module (the model to change in place), got {type(model).__name__}")
    rank = check_rank(rank)
    if init not in ("random", "nearest", "exact"):
        raise DLoRError(f"init must be 'random', 'nearest' or 'exact', got {init!r}")
    from ..decompose import embed_square, multiplicative_decompose

    summary = []
    names = _select(model, include, exclude)
    for name in names:  # every rank checked before any module changes
        lin = model.get_submodule(name)
        assert isinstance(lin, nn.Linear)  # _select chose it as one
        # the exact chain factors the square embedding of W (size max(m, n)); the others factor W
        most = max(lin.weight.shape) if init == "exact" else min(lin.weight.shape)
        if rank > most:
            raise RankError(
                f"module {name!r} ({lin.out_features} x {lin.in_features}): rank {rank} is above {most}, which adds "
                f"parameters without adding rank; use rank <= {most} or exclude the module"
            )
    for name in names:
        lin = model.get_submodule(name)
        assert isinstance(lin, nn.Linear)
        W = lin.weight
        before = sum(p.numel() for p in lin.parameters())
        if init == "exact":
            if W.dtype in (torch.float16, torch.bfloat16):
                raise DLoRError(
                    f"module {name!r}: init='exact' on a {W.dtype} weight: the chain of DLoR factors would run in "
                    f"{W.dtype}, whose rounding compounds over the factors (no longer exact); convert the model to "
                    f"float32 first (model.float()), or use init='nearest', which computes in float64 and casts back"
                )
            Wsq = embed_square(W.detach().double()) if W.shape[0] != W.shape[1] else W.detach().double()
            try:
                factors = [M.to(dtype=W.dtype, device=W.device) for M in multiplicative_decompose(Wsq, rank)]
            except DLoRError as err:
                raise type(err)(
                    f"module {name!r}: {err}; init='exact' needs an invertible weight, "
                    f"use init='nearest' for this module or exclude it"
                ) from None
            new: nn.Module = DLoRChain(factors, lin.in_features, lin.out_features, lin.bias)
        elif init == "nearest":
            new = DLoRLinear.from_linear(lin, rank)
        else:
            fresh = DLoRLinear(lin.in_features, lin.out_features, rank, bias=lin.bias is not None, dtype=W.dtype, device=W.device)
            if lin.bias is not None and fresh.bias is not None:
                with torch.no_grad():
                    fresh.bias.copy_(lin.bias)
            new = fresh
        for p in new.parameters():
            p.requires_grad_(W.requires_grad)
        _replace(model, name, new)
        after = sum(p.numel() for p in new.parameters())
        if after > before:
            warnings.warn(
                f"dlorize: module {name!r} ({lin.out_features} x {lin.in_features}) has {after} parameters at rank "
                f"{rank} where the nn.Linear had {before}; a lower rank, or excluding the module, keeps it smaller",
                UserWarning,
                stacklevel=2,
            )
        summary.append(
            {
                "name": name,
                "shape": (lin.out_features, lin.in_features),
                "rank": rank,
                "params_before": before,
                "params_after": after,
                "init": init,
            }
        )
    return summary
