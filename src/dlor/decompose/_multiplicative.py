r"""Multiplicative (depth) decomposition ``W = M_L ... M_1`` into DLoR factors (Theorem 4).

The proof of Theorem 4 (Appendix C.3) picks a change of basis ``Z``, writes
``E = W - alpha^L I = sum_j C_j D_j^T`` (column blocks of ``E Z``, row blocks of ``Z^{-1}``)
and sets ``U_k = alpha^(k-L) C_k``, ``V_k = P_{k-1}^{-T} D_k`` with the partial products
``P_k = alpha^(k-L) (alpha^L I + sum_{j<=k} C_j D_j^T)``. It needs every leading block
minor of ``Z^{-1} W Z`` to be nonzero.

The stable methods choose ``Z`` deterministically so that those minors are as well conditioned
as ``W`` allows, and never form an inverse (see ``dlor.decompose._bases``):

* ``method="hessenberg"`` (default): ``W = Q T Q^T`` with ``T`` upper Hessenberg, then
  Gaussian elimination on ``T`` in which a small pivot is raised by a neighbour shear (a
  similarity) instead of a row swap. Every multiplier has modulus ``<= 1``, so neither the
  basis nor ``L_b^{-1}`` grows. One Hessenberg reduction and two ``n x n`` products.
* ``method="schur"``: the real Schur form, in which the minors are products of eigenvalues
  (nonzero for every invertible ``W``, permutations included) and the partial products are
  block diagonal. One Schur decomposition, 2-4 times the cost of the Hessenberg method.

Both are ``O(n^3)``; their relative reconstruction error stays within a small multiple of
machine precision, also for ill-conditioned ``W`` (see the tests and
``benchmarks/bench_decompose.py``).
"""

from __future__ import annotations

import math
import warnings
from typing import Literal, overload

import numpy as np
import scipy.linalg

from .._errors import DLoRError, ShapeError, SingularMatrixError, check_rank
from .._matrix import DLoR
from ._bases import BASES, blas_threads, matmul
from ._common import (
    Certificate,
    MatrixLike,
    as_matrix,
    dense_product,
    max_partial_condition,
    relative_error,
    to_torch,
)

__all__ = ["multiplicative_decompose", "factor_identity_plus_low_rank", "lift_to_invertible"]


def _block_slices(k: int, rank: int) -> list[slice]:
    return [slice(s, min(s + rank, k)) for s in range(0, k, rank)]


def factor_identity_plus_low_rank(
    alpha: float, C: np.ndarray, D: np.ndarray | None, rank: int, basis: str = "hessenberg"
) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""Factor ``A = alpha^J I_n + C D^T`` (``D`` with orthonormal columns) into
    ``J = ceil(k / rank)`` DLoR factors ``A = M_J ... M_1``, ``M_j = alpha I + U_j V_j^T``.

    The Theorem 4 construction in the basis ``[D Z_k, D_perp]``, where ``Z_k`` is the basis
    chosen by ``basis`` (see ``dlor.decompose._bases``) for ``H = c I_k + D^T C``,
    ``c = alpha^J``: ``U_j = alpha^(j-J) (C Z_k)[:, J_j]`` and
    ``V_j = alpha^(1-j) (D left)[:, J_j]``. ``det A = c^(n-k) det H``, so ``A`` is invertible
    exactly when ``H`` is.

    Args:
        alpha: nonzero scalar.
        C, D: shape ``(n, k)``, float64; ``D = None`` means the identity (``k = n``).
        rank: block size ``r``.
        basis: ``"hessenberg"`` (default) or ``"schur"``.

    Returns:
        the list of ``(U_j, V_j)`` in application order.
    """
    n, k = C.shape
    blocks = _block_slices(k, rank)
    J = len(blocks)
    with blas_threads(k):
        H = alpha**J * np.eye(k) + (C if D is None else matmul(D.T, C))
        right, left = BASES[basis](H, rank)
        CU = matmul(C, right)
        DV = left if D is None else matmul(D, left)
    return [(alpha ** (j - J) * CU[:, sl], alpha ** (1 - j) * DV[:, sl]) for j, sl in enumerate(blocks, start=1)]


def _literal_factors(W: np.ndarray, rank: int, alpha: float, basis: str, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The proof of Theorem 4 transcribed literally (Appendix C.3): explicit inverses, O(n^4 / r)."""
    n = W.shape[0]
    Z = np.eye(n) if basis == "identity" else np.random.default_rng(seed).standard_normal((n, n))
    Zinv = np.linalg.inv(Z)
    blocks = _block_slices(n, rank)
    L = len(blocks)
    EZ = (W - alpha**L * np.eye(n)) @ Z
    acc = np.zeros((n, n))
    P_prev = np.eye(n)
    factors = []
    for k, sl in enumerate(blocks, start=1):
        Ck, Dk = EZ[:, sl], Zinv[sl, :].T
        factors.append((alpha ** (k - L) * Ck, np.linalg.inv(P_prev).T @ Dk))
        acc += Ck @ Dk.T
        P_prev = alpha ** (k - L) * (alpha**L * np.eye(n) + acc)
    return factors


def lift_to_invertible(W: np.ndarray, eps: float) -> tuple[np.ndarray, float]:
    """Nearest matrix (2-norm) with ``sigma_min >= eps * sigma_max``, and how far it moved."""
    P, s, Qt = np.linalg.svd(W)
    floor = eps * s[0]
    if s[-1] >= floor:
        return W, 0.0
    W2 = (P * np.maximum(s, floor)) @ Qt
    return W2, float(np.linalg.norm(W2 - W) / np.linalg.norm(W))


def check_invertible(W: np.ndarray, what: str = "W") -> None:
    """Raise [`SingularMatrixError`][dlor.SingularMatrixError] if ``W`` is numerically singular (LU + rcond estimate)."""
    n = W.shape[0]
    with warnings.catch_warnings(), blas_threads(n):  # an exactly singular W is reported below
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        lu, piv = scipy.linalg.lu_factor(W, check_finite=False)
    rcond, _ = scipy.linalg.lapack.dgecon(lu, np.linalg.norm(W, 1), norm="1")
    if not rcond > n * np.finfo(np.float64).eps:
        raise SingularMatrixError(
            f"{what} is numerically singular (reciprocal condition number {rcond:.2e}); "
            f"a product of invertible DLoR factors cannot equal it. Pass perturb=eps "
            f"(e.g. perturb=1e-8; on the command line --perturb 1e-8) to decompose the nearest matrix with "
            f"sigma_min >= eps*sigma_max "
            f"instead, as in Appendix E.1"
        )


@overload
def multiplicative_decompose(
    W: MatrixLike,
    rank: int,
    alpha: float | None = ...,
    *,
    method: str = ...,
    perturb: float | None = ...,
    basis: str = ...,
    seed: int = ...,
    return_certificate: Literal[False] = ...,
) -> list[DLoR]: ...
@overload
def multiplicative_decompose(
    W: MatrixLike,
    rank: int,
    alpha: float | None = ...,
    *,
    method: str = ...,
    perturb: float | None = ...,
    basis: str = ...,
    seed: int = ...,
    return_certificate: Literal[True],
) -> tuple[list[DLoR], Certificate]: ...
def multiplicative_decompose(
    W: MatrixLike,
    rank: int,
    alpha: float | None = None,
    *,
    method: str = "hessenberg",
    perturb: float | None = None,
    basis: str = "random",
    seed: int = 0,
    return_certificate: bool = False,
) -> list[DLoR] | tuple[list[DLoR], Certificate]:
    r"""Factor a square invertible ``W`` as ``M_L @ ... @ M_1``, ``M_l = alpha I + U_l V_l^T``.

    Paper: Theorem 4, proof in Appendix C.3. ``L = ceil(n / rank)``; ``M_1`` is applied
    first, as in the network; every factor shares the same ``alpha != 0`` and has
    ``rank(U_l V_l^T) <= rank``.

    Args:
        W: shape ``(n, n)``, invertible; tensor or array. Rectangular matrices must first be
            embedded with [`embed_square`][dlor.decompose.embed_square] (Remark 2).
        rank: ``>= 1``, the rank bound of each factor.
        alpha: the shared diagonal. Default: ``alpha = (||W||_F / sqrt(n))^(1/L) > 0``, which
            makes ``alpha^L`` the RMS singular value of ``W``, so the identity part and the
            low-rank part of every factor have the same scale; this keeps the partial
            products as well conditioned as ``W`` allows. A user value (e.g. the paper's
            0.8, Appendix H.1) is honoured; values far from the default make the partial
            products ill-conditioned (see the certificate).
        method: ``"hessenberg"`` (default, stable, ``O(n^3)``, about the cost of one full
            SVD), ``"schur"`` (stable, ``O(n^3)``, the real Schur basis) or ``"paper"``, the
            literal transcription of Appendix C.3 used for the paper's figures: a random
            Gaussian basis ``Z`` (or ``basis="identity"``) and one explicit ``n x n`` inverse
            per factor, ``O(n^4 / r)``, with no control of the leading minors. It fails on
            permutations with ``Z = I`` and loses accuracy quickly with ``n``.
        perturb: if given, ``W`` is first replaced by the nearest matrix with
            ``sigma_min >= perturb * sigma_max`` (the perturbation of Appendix E.1);
            the certificate reports ``||W' - W||_F / ||W||_F``.
        basis: the change of basis of ``method="paper"``.
        seed: its seed.
        return_certificate: also return a [`Certificate`][dlor.Certificate].

    Returns:
        ``list[DLoR]`` of length ``L`` in application order, in ``W``'s dtype and device;
        with ``return_certificate``, ``(factors, certificate)``.

    Raises:
        SingularMatrixError: ``W`` is numerically singular; pass ``perturb=eps``.
        ShapeError: ``W`` is not square.
        RankError: ``rank < 1``.
    """
    W = as_matrix(W)
    rank = check_rank(rank)
    n, m = W.shape
    if n != m:
        raise ShapeError(
            f"multiplicative_decompose needs a square W, got shape {(n, m)}; embed a "
            f"rectangular W first with embed_square(W) (Remark 2)"
        )
    if method not in (*BASES, "paper"):
        raise DLoRError(f"method must be one of {', '.join(map(repr, (*BASES, 'paper')))}, got {method!r}")
    if alpha is not None and not (math.isfinite(alpha) and alpha != 0):
        raise DLoRError(f"alpha must be a finite nonzero number, got {alpha!r}")
    A = W.detach().cpu().to(dtype=W.dtype).double().numpy()
    moved = 0.0
    if perturb is not None:
        if not (0 < perturb < 1):
            raise DLoRError(f"perturb must be in (0, 1), got {perturb!r}")
        A, moved = lift_to_invertible(A, perturb)
    else:
        check_invertible(A)
    L = math.ceil(n / rank)
    if alpha is None:
        alpha = (scipy.linalg.norm(A, check_finite=False) / math.sqrt(n)) ** (1.0 / L)
    if method != "paper":
        pairs = factor_identity_plus_low_rank(alpha, A - alpha**L * np.eye(n), None, rank, basis=method)
    else:
        pairs = _literal_factors(A, rank, alpha, basis, seed)
    a = to_torch(np.array(alpha), W)
    factors = [DLoR(a, to_torch(U, W), to_torch(V, W), validate=False) for U, V in pairs]
    if not return_certificate:
        return factors
    W_target = to_torch(A, W).double()
    cert = Certificate(
        reconstruction_error=relative_error(W_target, dense_product(factors)),
        max_partial_condition=max_partial_condition(factors),
        perturbation=moved,
        method=method,
        alpha=float(alpha),
        extras={"L": L, "error_vs_input": relative_error(W, dense_product(factors))},
    )
    return factors, cert
