r"""The DLoR layer map ``y = alpha x~ + (x V) U^T + b`` with a fused forward and backward.

Forward: with ``t = x V`` (``(B, r)``), the bias rides in the one matmul that writes ``y``,
``y = [t, 1] [U, b]^T``, and ``alpha x~`` is added in place over the ``min(m, n)`` shared
columns: a matmul that only writes ``y`` and one pass that reads ``x``, where
``addcmul(b, x, alpha).addmm_(t, U^T)`` writes ``y`` and then reads and writes it again.
``[t, 1]`` is kept for the backward, where it gives ``dL/dU`` and ``dL/db`` in one product.

Autograd's own backward of the forward's three operations makes several elementwise passes over
the ``(B, width)`` tensors: ``alpha * g`` and ``g * x~`` into fresh buffers, a reduction, and the
sum of two ``(B, n)`` input gradients. With ``t = x V`` and ``s = g U`` (``g = dL/dy``, ``(B, m)``):

* ``dL/dx = s V^T + alpha g~`` (``g~``: ``g`` truncated or zero-padded to ``n``): one matmul, then
  one in-place ``addcmul`` over the ``min(m, n)`` shared columns;
* ``dL/dalpha = <g, x~>``: a dot product without a temporary when ``m = n``;
* ``dL/dU = g^T t``, ``dL/dV = x^T s``, ``dL/db = sum_rows g``; ``dL/dU`` and ``dL/db`` come from
  one product ``[t, 1]^T g``, one pass over ``g`` instead of two.

The backward is written with differentiable torch operations, so double backward works.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["DLoRLinearFunction", "fit_last_dim"]


def fit_last_dim(x: Tensor, size: int) -> Tensor:
    """Zero-pad or truncate the last dimension of ``x`` to ``size``: ``x -> I_{size x n} x``."""
    n = x.shape[-1]
    if n == size:
        return x
    if n > size:
        return x[..., :size]
    return torch.nn.functional.pad(x, (0, size - n))


def _with_ones_column(t: Tensor) -> Tensor:
    """``[t, 1]``: ``t`` ``(B, r)`` with a column of ones appended, ``(B, r + 1)``."""
    return torch.nn.functional.pad(t, (0, 1), value=1.0)


class DLoRLinearFunction(torch.autograd.Function):
    """``apply(x (B, n), alpha (), U (m, r), V (n, r), bias (m,) or None) -> (B, m)``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, alpha: Tensor, U: Tensor, V: Tensor, bias: Tensor | None) -> Tensor:
        m, n = U.shape[0], V.shape[0]
        k = min(m, n)
        if bias is not None:
            t = _with_ones_column(x @ V)
            y = t @ torch.cat([U, bias.unsqueeze(1)], dim=1).t()  # [t, 1] [U, b]^T = t U^T + 1 b^T
        else:
            t = x @ V
            y = t @ U.t()
        # alpha x~: over the shared columns (x~ is x truncated or zero-padded to m), in place
        (y if k == m == n else y[:, :k]).addcmul_(x if k == n else x[:, :k], alpha)
        ctx.has_bias = bias is not None
        ctx.save_for_backward(x, alpha, U, V, t)
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        x, alpha, U, V, t = ctx.saved_tensors  # t: [t, 1] (B, r + 1) with a bias, else (B, r)
        need_x, need_alpha, need_U, need_V, need_b = ctx.needs_input_grad
        m, n = U.shape[0], V.shape[0]
        k = min(m, n)
        # An expanded gradient (from y.sum(), say) is materialised once: the matmuls below each
        # read g, and BLAS would otherwise copy or crawl through stride-0 rows every time. That
        # copy belongs to this backward alone, so when m == n it becomes dL/dx's buffer at the
        # end (no second fresh (B, n) buffer); not under create_graph, where g is in a graph.
        own_g = not g.is_contiguous() and m == n and not torch.is_grad_enabled()
        g = g.contiguous()
        gx = galpha = gU = gV = gb = None
        # Passes are ordered so that each (B, width) tensor is read by consecutive operations
        # while it is still in cache: g by g U, [t, 1]^T g and <g, x>; x then by s^T x.
        s: Tensor = g @ U if (need_x or need_V) else g.new_empty(0)  # (B, r); unused (empty) otherwise
        need_b = need_b and ctx.has_bias
        r = U.shape[1]
        if need_U:
            if torch.is_grad_enabled():  # t was made without a graph: under create_graph
                t = x @ V  # (double backward) recompute it from x
                if need_b:
                    t = _with_ones_column(t)
            elif not need_b:
                t = t[:, :r]
            # dL/db = 1^T g is the last row of the same product [t, 1]^T g: one pass over g, not two
            tg = t.t() @ g  # (r [+ 1], m): t^T g, the faster layout for BLAS
            gU = tg[:r].t()
            gb = tg[r] if need_b else None
        elif need_b:
            gb = g.sum(0)
        if need_alpha:
            if k == n == m and x.is_contiguous():
                galpha = torch.dot(g.reshape(-1), x.reshape(-1))
            else:
                galpha = torch.einsum("bi,bi->", g[:, :k], x[:, :k])
            galpha = galpha.reshape(alpha.shape)
        if need_V:
            gV = (s.t() @ x).t()
        if need_x:
            if own_g:
                gx = g.mul_(alpha).addmm_(s, V.t())  # alpha g + s V^T, in g's own buffer
            else:
                gx = s @ V.t()  # (B, n)
                if k == n == m:
                    gx.addcmul_(g, alpha)
                else:
                    gx[:, :k].addcmul_(g[:, :k], alpha)
        return gx, galpha, gU, gV, gb
