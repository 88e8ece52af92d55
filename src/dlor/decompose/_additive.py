r"""Additive (width) decomposition ``W = sum_l M_l`` (Theorem 3) and the square embedding (Remark 2)."""

from __future__ import annotations

import math
from typing import Literal, overload

import numpy as np
import torch
from torch import Tensor

from .._errors import DLoRError, check_rank
from .._matrix import DLoR
from ._common import Certificate, MatrixLike, as_matrix, dense_sum, relative_error, to_torch

__all__ = ["additive_decompose", "embed_square", "numerical_rank"]


def numerical_rank(s: np.ndarray, shape: tuple[int, int], eps: float) -> int:
    """Number of singular values above ``max(m, n) * eps * sigma_max``."""
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.sum(s > max(shape) * eps * s[0]))


@overload
def additive_decompose(
    W: MatrixLike, rank: int, alpha: float = ..., *, return_certificate: Literal[False] = ...
) -> list[DLoR]: ...
@overload
def additive_decompose(
    W: MatrixLike, rank: int, alpha: float = ..., *, return_certificate: Literal[True]
) -> tuple[list[DLoR], Certificate]: ...
def additive_decompose(
    W: MatrixLike, rank: int, alpha: float = 0.0, *, return_certificate: bool = False
) -> list[DLoR] | tuple[list[DLoR], Certificate]:
    r"""Split ``W`` into ``L`` DLoR components that sum to it: ``W = sum_l M_l``.

    Paper: Theorem 3 and Section 4.1. ``W - alpha I`` is split along its SVD into groups of
    ``rank`` singular triplets, ``L = ceil(numerical_rank(W - alpha I) / rank)`` (at least 1),
    and each component is ``M_l = (alpha / L) I + U_l V_l^T`` with the balanced factors
    ``U_l = P_l Sigma_l^(1/2)``, ``V_l = Q_l Sigma_l^(1/2)``. ``alpha`` is the total
    diagonal part, spread evenly. Rectangular ``W`` is allowed (``I`` is then ``I_{m x n}``).
    The numerical rank uses the tolerance ``max(m, n) * eps(dtype) * sigma_max``.

    Args:
        W: shape ``(m, n)``.
        rank: ``>= 1``.
        alpha: the total diagonal coefficient.

    Returns:
        ``list[DLoR]`` (with ``return_certificate``, also a [`Certificate`][dlor.Certificate]).
    """
    W = as_matrix(W)
    rank = check_rank(rank)
    if not math.isfinite(alpha):
        raise DLoRError(f"alpha must be finite, got {alpha!r}")
    m, n = W.shape
    A = W.detach().cpu().double().numpy() - alpha * np.eye(m, n)
    P, s, Qt = np.linalg.svd(A, full_matrices=False)
    k = numerical_rank(s, (m, n), torch.finfo(W.dtype).eps)
    L = max(1, math.ceil(k / rank))
    root = np.sqrt(s)
    a = to_torch(np.array(alpha / L), W)
    components = []
    for l in range(L):
        sl = slice(l * rank, min((l + 1) * rank, k))
        U = P[:, sl] * root[sl]
        V = Qt[sl, :].T * root[sl]
        components.append(DLoR(a, to_torch(U, W), to_torch(V, W), validate=False))
    if not return_certificate:
        return components
    cert = Certificate(
        reconstruction_error=relative_error(W, dense_sum(components)),
        method="svd",
        alpha=alpha,
        extras={"L": L, "numerical_rank": k},
    )
    return components, cert


def embed_square(W: MatrixLike, fill: str = "orthogonal", scale: float | None = None) -> Tensor:
    r"""Embed ``W`` of shape ``(m, n)`` into a ``D x D`` matrix, ``D = max(m, n)`` (Remark 2).

    ``W`` sits in the upper-left block, so for ``x~ = [x; 0]``, the first ``m`` entries of
    ``W~ x~`` are exactly ``W x``. The missing rows (``m < n``) or columns (``m > n``) are
    filled with ``scale`` times an orthonormal basis of the orthogonal complement of
    ``W``'s row (column) space (``fill="orthogonal"``, default), which makes ``W~``
    invertible whenever ``W`` has full rank; ``scale`` defaults to the smallest singular
    value of ``W`` so that ``cond(W~) = cond(W)``. ``fill="zeros"`` pads with zeros
    (singular unless ``m == n``).
    """
    W = as_matrix(W)
    m, n = W.shape
    D = max(m, n)
    out = torch.zeros(D, D, dtype=W.dtype, device=W.device)
    out[:m, :n] = W
    if m == n or fill == "zeros":
        return out
    if fill != "orthogonal":
        raise DLoRError(f"fill must be 'orthogonal' or 'zeros', got {fill!r}")
    A = W.detach().cpu().double().numpy()
    tall = m > n
    B = A if tall else A.T  # (D, d): its column space is what the fill must complement
    U_full, s, _ = np.linalg.svd(B, full_matrices=True)
    if scale is None:
        scale = float(s[-1])
    complement = U_full[:, B.shape[1] :] * scale  # (D, D - d)
    fill_t = to_torch(complement, W)
    if tall:
        out[:, n:] = fill_t
    else:
        out[m:, :] = fill_t.T
    return out
