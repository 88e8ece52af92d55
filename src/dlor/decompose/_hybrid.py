r"""Hybrid decomposition ``W = sum_i prod_j M_ij`` (Remark 3)."""

from __future__ import annotations

import itertools
import math
from typing import Literal, overload

import numpy as np

from .._errors import DLoRError, ShapeError, SingularMatrixError, check_rank
from .._matrix import DLoR
from ._common import Certificate, MatrixLike, as_matrix, dense_product, relative_error, to_torch
from ._multiplicative import check_invertible, factor_identity_plus_low_rank

__all__ = ["hybrid_decompose"]


@overload
def hybrid_decompose(
    W: MatrixLike, rank: int, branches: int, *, return_certificate: Literal[False] = ...
) -> list[list[DLoR]]: ...
@overload
def hybrid_decompose(
    W: MatrixLike, rank: int, branches: int, *, return_certificate: Literal[True]
) -> tuple[list[list[DLoR]], Certificate]: ...
def hybrid_decompose(
    W: MatrixLike, rank: int, branches: int, *, return_certificate: bool = False
) -> list[list[DLoR]] | tuple[list[list[DLoR]], Certificate]:
    r"""Write a square invertible ``W`` as a sum of ``branches`` products of DLoR factors.

    Paper: Remark 3. With ``c > 0`` and ``B = branches``, the SVD of ``W - B c I`` is split into
    ``B`` groups of ``k_i ~ n / B`` singular triplets ``S_i``, so that
    ``W = sum_i (c I + S_i)``. Each branch ``c I + S_i`` is an identity plus a rank-``k_i``
    update and factors exactly into ``J_i = ceil(k_i / rank)`` DLoR factors with
    ``alpha_i^(J_i) = c`` (the Theorem 4 construction restricted to the update's subspace).
    Depth per branch is thus ``~ n / (B rank)``: width and depth are traded as in Remark 3.
    ``c`` is tried at ``sigma_max(W)`` times 1, 2, 4, 8 and the first value for which every
    branch is well conditioned is used.

    Returns:
        ``list[list[DLoR]]``: ``result[i]`` are branch ``i``'s factors in application order,
        and ``W = sum_i result[i][-1] @ ... @ result[i][0]``.
    """
    W = as_matrix(W)
    rank = check_rank(rank)
    if isinstance(branches, bool) or not isinstance(branches, int) or branches < 1:
        raise DLoRError(f"branches must be a positive integer, got {branches!r}")
    n, m = W.shape
    if n != m:
        raise ShapeError(f"hybrid_decompose needs a square W, got {(n, m)}; use embed_square(W) first")
    if branches > n:
        raise DLoRError(f"branches = {branches} exceeds n = {n}")
    A = W.detach().cpu().double().numpy()
    check_invertible(A)
    smax = float(np.linalg.norm(A, 2))
    sizes = [len(g) for g in np.array_split(np.arange(n), branches)]
    for factor in (1.0, 2.0, 4.0, 8.0):
        c = factor * smax
        P, s, Qt = np.linalg.svd(A - branches * c * np.eye(n))
        starts = np.cumsum([0, *sizes])
        pieces = [(P[:, a:b] * s[a:b], Qt[a:b].T) for a, b in itertools.pairwise(starts)]
        ok = True
        for C, D in pieces:
            H = c * np.eye(D.shape[1]) + D.T @ C
            if np.linalg.cond(H) > 1e10:
                ok = False
                break
        if ok:
            break
    else:
        raise SingularMatrixError("hybrid_decompose: no well-conditioned split found; use fewer branches")
    result = []
    alphas = []
    for C, D in pieces:
        J = math.ceil(D.shape[1] / rank)
        alpha = c ** (1.0 / J)
        pairs = factor_identity_plus_low_rank(alpha, C, D, rank)
        a = to_torch(np.array(alpha), W)
        result.append([DLoR(a, to_torch(U, W), to_torch(V, W), validate=False) for U, V in pairs])
        alphas.append(alpha)
    if not return_certificate:
        return result
    total = dense_product(result[0])
    for f in result[1:]:
        total = total + dense_product(f)
    cert = Certificate(
        reconstruction_error=relative_error(W, total),
        method="svd-split+hessenberg",
        alpha=alphas,
        extras={"depths": [len(f) for f in result], "c": c},
    )
    return result, cert
