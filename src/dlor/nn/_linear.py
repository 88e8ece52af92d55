r"""``DLoRLinear``: a drop-in linear layer whose weight is ``alpha * I + U V^T``."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from .._errors import DLoRError, RankError, check_rank
from .._matrix import DLoR, dlor_linear

__all__ = ["DLoRLinear"]


class DLoRLinear(nn.Module):
    r"""``y = alpha * x~ + (x V) U^T + b``, the layer ``x -> M x + b`` with ``M`` a DLoR.

    Paper: Definition 3; rectangular shapes by Remark 2, where ``x~`` is ``x`` zero-padded
    or truncated to ``out_features``. The forward pass costs ``O(B r (n + m) + B m)`` and
    never forms the ``m x n`` weight.

    Args:
        in_features: ``n``.
        out_features: ``m``.
        rank: ``r >= 1``, the number of columns of ``U`` and ``V``.
        bias: learn an additive bias ``b`` of shape ``(m,)``.
        alpha_trainable: ``alpha`` is an ``nn.Parameter`` (default) or a fixed buffer.
        alpha_init: initial ``alpha``.

    Shapes:
        input ``(..., n)``, output ``(..., m)``.

    Learned tensors:
        ``alpha``: shape ``()``; ``U``: ``(m, r)``; ``V``: ``(n, r)``; ``bias``: ``(m,)``.

    Initialisation (see [`reset_parameters`][dlor.nn.DLoRLinear.reset_parameters]): ``alpha = 1`` so that the layer starts
    as the identity residual pathway plus a perturbation. This is the property the paper's
    constructions rest on (Section 4): ``M`` is full rank from the first step and no
    direction of the input is blind (Definition 2). ``V ~ N(0, 1/n)`` and
    ``U ~ N(0, 1/(3 r))``, so that each coordinate of ``U V^T x`` has variance
    ``E[x_i^2] / 3``, the same as ``W x`` under ``nn.Linear``'s default initialisation.
    Both factors are random (unlike LoRA's ``U = 0``) because the layer is trained from
    scratch, not as an adapter on a pretrained weight. The bias follows ``nn.Linear``:
    ``U(-1/sqrt(n), 1/sqrt(n))``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rank: int,
        bias: bool = True,
        *,
        alpha_trainable: bool = True,
        alpha_init: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DLoRError(f"{name} must be a positive integer, got {value!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.rank = check_rank(rank)
        if rank > min(in_features, out_features):
            raise RankError(
                f"rank {rank} is above min(in_features, out_features) = {min(in_features, out_features)}: the extra "
                f"columns of U and V add parameters without adding rank; use rank <= {min(in_features, out_features)}"
            )
        if isinstance(alpha_init, bool) or not isinstance(alpha_init, (int, float)):
            raise DLoRError(f"alpha_init must be a number, got {alpha_init!r}")
        self.alpha_init = float(alpha_init)
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        alpha = torch.empty((), **factory)
        if not math.isfinite(self.alpha_init) or abs(self.alpha_init) > torch.finfo(alpha.dtype).max:
            raise DLoRError(f"alpha_init = {alpha_init!r} is not a finite {alpha.dtype} number")
        if alpha_trainable:
            self.alpha = nn.Parameter(alpha)
        else:
            self.register_buffer("alpha", alpha)
        self.U = nn.Parameter(torch.empty(out_features, rank, **factory))
        self.V = nn.Parameter(torch.empty(in_features, rank, **factory))
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the parameters with the documented initialisation (see class docstring)."""
        with torch.no_grad():
            self.alpha.fill_(self.alpha_init)
            nn.init.normal_(self.V, std=1.0 / math.sqrt(self.in_features))
            nn.init.normal_(self.U, std=1.0 / math.sqrt(3.0 * self.rank))
            if self.bias is not None:
                bound = 1.0 / math.sqrt(self.in_features)
                nn.init.uniform_(self.bias, -bound, bound)

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, **kwargs: Any) -> DLoRLinear:
        """The DLoRLinear whose weight is [`nearest_dlor`][dlor.nearest_dlor] of ``linear.weight``.

        The bias is copied; dtype and device follow ``linear``. The weight error is the
        smallest any ``alpha I + U V^T`` of this rank can reach in Frobenius norm.
        """
        from ..decompose import nearest_dlor

        if not isinstance(linear, nn.Linear):
            raise DLoRError(f"from_linear expects an nn.Linear, got {type(linear).__name__}")
        W = linear.weight.detach()
        layer = cls(
            linear.in_features,
            linear.out_features,
            rank,
            bias=linear.bias is not None,
            device=W.device,
            dtype=W.dtype,
            **kwargs,
        )
        M = nearest_dlor(W, rank)
        r = M.rank
        with torch.no_grad():
            layer.alpha.copy_(M.alpha)
            layer.U.zero_()
            layer.V.zero_()
            layer.U[:, :r].copy_(M.U)
            layer.V[:, :r].copy_(M.V)
            if linear.bias is not None and layer.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer

    @classmethod
    def from_dlor(cls, M: DLoR, dtype: torch.dtype | None = None) -> DLoRLinear:
        """The DLoRLinear (no bias) whose weight is ``M``: ``alpha``, ``U`` and ``V`` copied, rank
        ``max(M.rank, 1)`` (a rank-0 ``M`` gets one zero column); ``dtype`` defaults to ``M``'s."""
        m, n = M.shape
        layer = cls(n, m, max(M.rank, 1), bias=False, dtype=dtype or M.dtype, device=M.device)
        with torch.no_grad():
            layer.alpha.copy_(M.alpha)
            layer.U.zero_()
            layer.V.zero_()
            layer.U[:, : M.rank].copy_(M.U)
            layer.V[:, : M.rank].copy_(M.V)
        return layer

    def forward(self, x: Tensor) -> Tensor:
        return dlor_linear(x, self.alpha, self.U, self.V, self.bias)

    @property
    def matrix(self) -> DLoR:
        """The weight as a [`DLoR`][dlor.DLoR] sharing storage (and autograd) with the parameters."""
        return DLoR(self.alpha, self.U, self.V, validate=False)

    @property
    def weight(self) -> Tensor:
        """A dense ``(out_features, in_features)`` view of the weight, for code that reads ``.weight``.

        It is computed on each access (``O(m n r)``) and is not a parameter; the forward pass
        never uses it.
        """
        return self.matrix.to_dense()

    @property
    def num_params(self) -> int:
        """Number of scalars: ``1 + r (m + n)`` (+ ``m`` with a bias)."""
        return self.matrix.num_params + (self.out_features if self.bias is not None else 0)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, bias={self.bias is not None}"
