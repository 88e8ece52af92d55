r"""DLoR adapters: ``alpha I + U V^T`` fine-tuned beside a frozen pretrained ``nn.Linear``
(Appendix G, "Overcoming the Pretraining Barrier").

A LoRA adapter adds ``s B A`` to a frozen weight ``W_0``; a DLoR adapter adds
``s (alpha I_{m x n} + U V^T)``, the DLoR component of Definition 3 (rectangular by Remark 2).
The update starts at zero (``U = 0``, ``alpha = alpha_init = 0``), so the adapted model starts
as the pretrained one; with ``alpha`` frozen at 0 it is LoRA with ``B = U`` and ``A = V^T``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from .._errors import DLoRError, RankError, check_rank
from .._matrix import DLoR, dlor_linear
from ._targets import replace_module, select_linear

__all__ = ["DLoRAdapter", "adapt", "adapter_delta", "adapter_update", "merge_adapters"]


def adapter_update(x: Tensor, alpha: Tensor, U: Tensor, V: Tensor, scale: float) -> Tensor:
    r"""``s (alpha x~ + (x V) U^T)``: the update a DLoR adapter adds to its frozen layer's output.

    ``x~`` is ``x`` zero-padded or truncated to ``m`` features (Remark 2); the ``m x n`` update
    is never formed.

    Args:
        x: shape ``(..., n)``.
        alpha: scalar tensor.
        U: shape ``(m, r)``.
        V: shape ``(n, r)``.
        scale: the scale ``s``.

    Returns:
        shape ``(..., m)``.
    """
    return dlor_linear(x, alpha, U, V) * scale


def adapter_delta(alpha: Tensor, U: Tensor, V: Tensor, scale: float) -> Tensor:
    r"""The dense update ``s (alpha I_{m x n} + U V^T)``, shape ``(m, n)``: what merging adds to ``W_0``."""
    return DLoR(alpha, U, V, validate=False).to_dense() * scale


def init_factors(U: Tensor, V: Tensor) -> None:
    """``U = 0`` and ``V ~ U(-1/sqrt(n), 1/sqrt(n))``, LoRA's start (``B = 0``, ``A`` Kaiming-uniform
    with ``a = sqrt(5)``), so the update starts at zero and its gradient does not."""
    with torch.no_grad():
        U.zero_()
        bound = 1.0 / math.sqrt(V.shape[0])
        V.uniform_(-bound, bound)


def check_adapter_rank(rank: int, out_features: int, in_features: int, name: str = "") -> int:
    rank = check_rank(rank)
    if rank > min(out_features, in_features):
        where = f"module {name!r} " if name else ""
        raise RankError(
            f"{where}is {out_features} x {in_features}: a rank-{rank} update is no smaller than the weight itself; "
            f"use rank <= {min(out_features, in_features)}, or exclude the module"
        )
    return rank


class DLoRAdapter(nn.Module):
    r"""``y = W_0 x + b + s (alpha x~ + (x V) U^T)`` around a frozen ``nn.Linear`` (Definition 3, Remark 2).

    The base layer's parameters are frozen; ``U`` ``(m, r)``, ``V`` ``(n, r)`` and (unless
    ``train_alpha=False``) ``alpha`` are trained. ``merge()`` folds the update into the base
    weight, ``W_0 + s (alpha I + U V^T)``, and ``unmerge()`` takes it out again; the forward never
    forms the dense update.

    Args:
        base: the pretrained ``nn.Linear`` (``in_features = n``, ``out_features = m``).
        rank: ``r``, ``1 <= r <= min(m, n)``.
        scale: ``s``, the update's scale (LoRA's ``lora_alpha / r``).
        alpha_init: ``alpha`` at the start (0: the adapted layer starts as the base layer).
        train_alpha: train ``alpha``; with ``False`` it stays at ``alpha_init`` (a buffer).
    """

    def __init__(self, base: nn.Linear, rank: int, scale: float = 1.0, alpha_init: float = 0.0, train_alpha: bool = True):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise DLoRError(f"DLoRAdapter wraps an nn.Linear, got {type(base).__name__}; adapt the Linear layers inside it")
        m, n = base.out_features, base.in_features
        self.rank = check_adapter_rank(rank, m, n)
        if not math.isfinite(scale) or not math.isfinite(alpha_init):
            raise DLoRError(f"scale and alpha_init must be finite numbers, got scale={scale!r}, alpha_init={alpha_init!r}")
        self.base: nn.Linear = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.scale = float(scale)
        factory: dict[str, Any] = {"dtype": base.weight.dtype, "device": base.weight.device}
        self.U = nn.Parameter(torch.empty(m, self.rank, **factory))
        self.V = nn.Parameter(torch.empty(n, self.rank, **factory))
        init_factors(self.U, self.V)
        alpha = torch.tensor(float(alpha_init), **factory)
        if train_alpha:
            self.alpha = nn.Parameter(alpha)
        else:
            self.register_buffer("alpha", alpha)
        self.merged = False

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.base(x)
        if self.merged:
            return y
        update = adapter_update(x.to(self.U.dtype), self.alpha, self.U, self.V, self.scale)
        return y + update.to(y.dtype)

    def delta_weight(self) -> Tensor:
        """The dense update ``s (alpha I_{m x n} + U V^T)``, shape ``(out_features, in_features)``."""
        return adapter_delta(self.alpha, self.U, self.V, self.scale)

    @torch.no_grad()
    def merge(self) -> nn.Linear:
        """Fold the update into the base weight (the forward then runs the base layer alone) and
        return the base layer, now ``W_0 + s (alpha I + U V^T)``. Merging twice is refused."""
        if self.merged:
            raise DLoRError("this adapter is merged already; call unmerge() first")
        self.base.weight += self.delta_weight().to(self.base.weight.dtype)
        self.merged = True
        return self.base

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the update out of the base weight again (``W_0`` up to rounding)."""
        if not self.merged:
            raise DLoRError("this adapter is not merged; there is nothing to unmerge")
        self.base.weight -= self.delta_weight().to(self.base.weight.dtype)
        self.merged = False

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, scale={self.scale:g}"


def adapt(
    model: nn.Module,
    rank: int,
    include: str | list[str] | None = None,
    exclude: str | list[str] | None = None,
    scale: float = 1.0,
    alpha_init: float = 0.0,
    train_alpha: bool = True,
) -> list[dict[str, Any]]:
    r"""Put a [`DLoRAdapter`][dlor.nn.DLoRAdapter] beside each matching ``nn.Linear`` of ``model``,
    in place, and freeze every other parameter (Appendix G: fine-tuning with ``alpha I + U V^T``).

    Args:
        model: any ``nn.Module``.
        rank: ``r`` of every adapter; each targeted ``m x n`` layer needs ``r <= min(m, n)``.
        include: module-name patterns, globs (``"blocks.*.attn.qkv"``) or regexes prefixed by
            ``"re:"``; default: every ``nn.Linear``.
        exclude: patterns of the same kind to leave out.
        scale, alpha_init, train_alpha: as in [`DLoRAdapter`][dlor.nn.DLoRAdapter].

    Returns:
        one dict per adapted module: ``name``, ``shape``, ``rank``, ``trainable`` (its adapter's
        trainable parameters).

    Raises:
        DLoRError: ``model`` is not an ``nn.Module``, a pattern matches no module or no
            ``nn.Linear``, or a rank exceeds a targeted layer's ``min(m, n)``.
    """
    if not isinstance(model, nn.Module):
        raise DLoRError(f"adapt takes an nn.Module, got {type(model).__name__}")
    rank = check_rank(rank)
    names = select_linear(model, include, exclude)
    for name in names:  # every rank is checked before any module changes
        lin = model.get_submodule(name)
        assert isinstance(lin, nn.Linear)  # select_linear chose it as one
        check_adapter_rank(rank, lin.out_features, lin.in_features, name)
    for p in model.parameters():
        p.requires_grad_(False)
    summary = []
    for name in names:
        lin = model.get_submodule(name)
        assert isinstance(lin, nn.Linear)  # select_linear chose it as one
        adapter = DLoRAdapter(lin, rank, scale=scale, alpha_init=alpha_init, train_alpha=train_alpha)
        replace_module(model, name, adapter)
        summary.append(
            {
                "name": name,
                "shape": (lin.out_features, lin.in_features),
                "rank": rank,
                "trainable": sum(p.numel() for p in adapter.parameters() if p.requires_grad),
            }
        )
    return summary


def merge_adapters(model: nn.Module) -> nn.Module:
    """Replace every [`DLoRAdapter`][dlor.nn.DLoRAdapter] of ``model`` by its merged ``nn.Linear``
    (``W_0 + s (alpha I + U V^T)``), in place, and return ``model``."""
    for name, module in list(model.named_modules()):
        if isinstance(module, DLoRAdapter):
            merged = module.base if module.merged else module.merge()
            if name:
                replace_module(model, name, merged)
            else:
                return merged
    return model
