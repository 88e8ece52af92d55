r"""Changes of basis for the multiplicative decomposition (Theorem 4, Appendix C.3).

Theorem 4's construction works in any basis ``Z`` in which ``G = Z^{-1} H Z`` has nonzero
leading principal minors at the block boundaries ``r, 2r, ...``. With the block LU
factorisation ``G = L_b U_b`` (``L_b`` unit block lower triangular), the proof's factors are

    U_j = alpha^(j-J) ((H - c I) Z)[:, J_j],    V_j = alpha^(1-j) (L_b^{-1} Z^{-1})^T[:, J_j],

where ``c = alpha^J`` and ``J_j`` is the j-th block of coordinates (the partial products are
``P_j = alpha^(j-J) Z [[G_11, 0], [G_21, c I]] Z^{-1}``, and ``V_j = P_{j-1}^{-T} D_j`` reduces to
the row block ``J_j`` of ``L_b^{-1}``). A basis function returns ``right = Z`` and
``left = (L_b^{-1} Z^{-1})^T``; the factors are then two matrix products away.

Two bases are provided, both deterministic and both exact for every invertible matrix:

* ``hessenberg_basis`` (default). ``H = Q T Q^T`` with ``T`` upper Hessenberg (orthogonal,
  ``10/3 k^3`` flops). Gaussian elimination on ``T`` needs one multiplier per column,
  ``l_i = T[i+1, i] / T[i, i]``. Where ``|T[i, i]| < |T[i+1, i]|`` a *neighbour shear*
  ``S = I + t e_i e_{i+1}^T`` (a similarity, unlike the row swap of partial pivoting) raises
  the pivot to ``|T[i+1, i]|``; it keeps ``T`` Hessenberg and has ``|t| < 1``. Hence
  ``|l_i| <= 1``, ``L`` is unit lower bidiagonal, ``L^{-1}`` has entries of modulus ``<= 1``,
  and ``S^{-1}`` is bidiagonal: nothing in the factors grows. The elimination itself is
  ``O(k^2)``; the total is one Hessenberg reduction and two ``k x k`` products.
* ``schur_basis``. The real Schur form ``H = Q T Q^T``: ``T`` is quasi-triangular, so
  ``L_b = I`` except where a 2x2 block (complex eigenvalue pair) straddles a block boundary;
  a 2x2 shear makes its leading entry ``|lambda|`` (it is zero for rotations) and leaves one
  exactly known entry in ``L_b``. It costs one Schur decomposition, 1.5-3 times a full SVD
  (measured at n = 256-2048).
"""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np
import scipy.linalg
import scipy.linalg.blas
from threadpoolctl import ThreadpoolController

__all__ = ["hessenberg_basis", "schur_basis", "BASES", "matmul", "blas_threads"]

# Above this size the Hessenberg reduction gains from BLAS threads; below it, thread
# synchronisation costs more than it saves (measured on 2 cores: single-threaded was 2.5x
# faster end to end at n = 256, 1.6x at 512, equal at 1024, 1.6x slower at 2048).
_SINGLE_THREAD_MAX = 1024


@functools.lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def blas_threads(k: int) -> contextlib.AbstractContextManager:
    """Context in which the decompositions of a ``k x k`` problem run: single-threaded BLAS for
    ``k <= 1024``, the library's own threading above."""
    if k <= _SINGLE_THREAD_MAX:
        limited: contextlib.AbstractContextManager = _controller().limit(limits=1, user_api="blas")
        return limited
    return contextlib.nullcontext()


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` in float64 through SciPy's BLAS.

    The decompositions call LAPACK through SciPy; NumPy (and PyTorch) carry their own BLAS
    with their own thread pool, and on a machine with few cores switching between the pools
    made the Hessenberg reduction 1.5-10x slower (measured at n = 256-512). Keeping every
    product in SciPy's library avoids that.
    """
    product: np.ndarray = scipy.linalg.blas.dgemm(1.0, a, b)
    return product


def _block_starts(k: int, rank: int) -> range:
    return range(rank, k, rank)


def hessenberg_basis(H: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Z, (L_b^{-1} Z^{-1})^T)`` for ``H`` (``k x k``, float64) from the Hessenberg form and
    neighbour-shear elimination described in the module docstring."""
    k = H.shape[0]
    T, Q = scipy.linalg.hessenberg(H, calc_q=True, check_finite=False)
    T = np.array(T, order="C", copy=True)  # scipy may return its input unchanged for k <= 2
    mult = np.zeros(max(k - 1, 0))
    shears: list[tuple[int, float]] = []
    for i in range(k - 1):
        pivot, below = float(T[i, i]), float(T[i + 1, i])
        if abs(pivot) < abs(below):
            target = math.copysign(abs(below), pivot) if pivot != 0.0 else abs(below)
            t = (pivot - target) / below  # |t| < 1
            T[: i + 2, i + 1] += t * T[: i + 2, i]  # T <- S^{-1} T S, S = I + t e_i e_{i+1}^T
            T[i, i:] -= t * T[i + 1, i:]
            shears.append((i, t))
        m = below / float(T[i, i])
        mult[i] = m
        T[i + 1, i + 1 :] -= m * T[i, i + 1 :]
    right = Q.copy()
    for i, t in shears:  # Z = Q S_1 S_2 ...
        right[:, i + 1] += t * right[:, i]
    q_inv_t = Q  # Q S^{-T}, with S^{-1} = I - sum_i t_i e_i e_{i+1}^T (bidiagonal)
    for i, t in shears:  # increasing i: column i+1 is still Q's own
        q_inv_t[:, i] -= t * q_inv_t[:, i + 1]
    # L_b^{-1} = L_d L^{-1} is the identity except the first row b of each block j > 1:
    # row b = -l_{b-1} * (row b-1 of L^{-1}), and (L^{-1})[b-1, j] = prod_{m=j}^{b-2} (-l_m).
    starts = list(_block_starts(k, rank))
    left = q_inv_t.copy()
    if starts:
        rows = np.zeros((len(starts), k))
        for a, b in enumerate(starts):
            if mult[b - 1] == 0.0:
                continue
            rows[a, b - 1] = 1.0
            rows[a, : b - 1] = np.cumprod(-mult[: b - 1][::-1])[::-1]
            rows[a, :b] *= -mult[b - 1]
        left[:, starts] += matmul(q_inv_t, rows.T)
    return right, left


def schur_basis(H: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Z, (L_b^{-1} Z^{-1})^T)`` for ``H`` (``k x k``, float64) from the real Schur form with
    2x2 shears at the block boundaries, as described in the module docstring."""
    t, q = scipy.linalg.schur(H, output="real", check_finite=False)
    right = q.copy()  # q S
    left = q.copy()  # q S^{-T}
    corrections: dict[int, float] = {}  # block start b -> the entry of L_b^{-1} at (b, b-1)
    for b in _block_starts(H.shape[0], rank):
        if t[b, b - 1] == 0.0:
            continue
        a, off = t[b - 1, b - 1], t[b - 1, b]
        modulus = math.sqrt(abs(t[b - 1, b - 1] * t[b, b] - t[b - 1, b] * t[b, b - 1]))
        target = math.copysign(modulus, a) if a != 0 else modulus
        s = (target - a) / off
        # T <- S^{-1} T S with S = I + s e_b e_{b-1}^T (keeps T quasi-triangular)
        t[:, b - 1] += s * t[:, b]
        t[b, :] -= s * t[b - 1, :]
        right[:, b - 1] += s * right[:, b]
        left[:, b] -= s * left[:, b - 1]
        corrections[b] = -t[b, b - 1] / t[b - 1, b - 1]
    sheared = left.copy()
    for b, value in corrections.items():
        left[:, b] += value * sheared[:, b - 1]
    return right, left


BASES = {"hessenberg": hessenberg_basis, "schur": schur_basis}
