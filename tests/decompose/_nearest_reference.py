r"""The reference for :func:`dlor.nearest_dlor`: the previous global search, one full SVD per
evaluation of ``h(alpha)`` (Piyavskii-Shubert with the Lipschitz constant ``sqrt(min(m, n))``,
then a bounded Brent polish). Slow (40-110x one SVD) but simple, and independent of the
Gram-matrix branch and bound it checks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import scipy.optimize

from dlor._errors import check_rank
from dlor._matrix import DLoR
from dlor.decompose._common import Certificate, as_matrix, relative_error, to_torch


def _residual(A: np.ndarray, alpha: float, rank: int) -> float:
    """``h(alpha) = min_{rank(X) <= r} ||A - alpha I - X||_F = sqrt(sum_{i>r} sigma_i(A - alpha I)^2)``."""
    s = np.linalg.svd(A - alpha * np.eye(*A.shape), compute_uv=False)
    return float(np.sqrt(np.sum(s[rank:] ** 2)))


def reference_nearest_dlor(W, rank: int, *, rtol: float = 1e-3, max_evals: int = 200, return_certificate: bool = False):
    r"""The DLoR ``(alpha, U, V)`` minimising ``||W - alpha I - U V^T||_F`` with ``rank(U V^T) <= rank``.

    For fixed ``alpha`` the best ``U V^T`` is the Eckart-Young truncation of ``W - alpha I``,
    so the problem reduces to the scalar profile ``h(alpha) = sqrt(sum_{i>r} sigma_i(W - alpha
    I)^2)``. By the triangle inequality ``h`` is Lipschitz with constant ``sqrt(min(m, n))``,
    and the optimum satisfies ``|alpha*| <= sigma_max(W) sqrt(k / (k - r))``, ``k = min(m, n)``.
    A Piyavskii-Shubert search (deterministic global optimisation with that Lipschitz bound)
    locates the global minimum to within ``rtol * h`` and a bounded Brent search polishes it.
    The result is never worse than the Eckart-Young truncation (``alpha = 0`` is evaluated)
    and is strictly better when ``W`` has an identity component. Cost: one SVD per
    evaluation of ``h``, typically a few dozen.

    Args:
        W: shape ``(m, n)``.
        rank: ``>= 1``.
        rtol: relative optimality tolerance on ``h`` for the global phase.
        max_evals: cap on SVDs in the global phase; the certificate reports the gap reached.

    Returns:
        a :class:`DLoR` (with ``return_certificate``, also a :class:`Certificate` whose
        ``extras`` hold the Eckart-Young error, the optimality gap and the evaluation count).
    """
    W = as_matrix(W)
    rank = check_rank(rank)
    m, n = W.shape
    k = min(m, n)
    A = W.detach().cpu().double().numpy()
    evals = {}

    def h(alpha: float) -> float:
        if alpha not in evals:
            evals[alpha] = _residual(A, alpha, rank)
        return evals[alpha]

    gap = 0.0
    if rank >= k:
        alpha = 0.0
    else:
        smax = float(np.linalg.norm(A, 2))
        bound = smax * math.sqrt(k / (k - rank)) + 1e-300
        lip = math.sqrt(k)
        xs = sorted({-bound, 0.0, bound, float(np.trace(A) / k)})
        for x in xs:
            h(x)
        while True:
            pts = sorted(evals)
            best = min(evals.values())
            lows = []
            for a, b in itertools.pairwise(pts):
                ha, hb = evals[a], evals[b]
                lows.append(((ha + hb) / 2 - lip * (b - a) / 2, a, b))
            low, a, b = min(lows)
            gap = max(best - low, 0.0)
            if gap <= rtol * best + 1e-14 * (bound + 1) or len(evals) >= max_evals:
                break
            x = (a + b) / 2 + (evals[a] - evals[b]) / (2 * lip)
            h(min(max(x, a), b))
        alpha = min(evals, key=evals.get)
        pts = sorted(evals)
        i = pts.index(alpha)
        lo, hi = pts[max(i - 1, 0)], pts[min(i + 1, len(pts) - 1)]
        if hi > lo:
            res = scipy.optimize.minimize_scalar(
                h, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12 * (abs(alpha) + 1)}
            )
            if res.fun < evals[alpha]:
                alpha = float(res.x)
    P, s, Qt = np.linalg.svd(A - alpha * np.eye(m, n), full_matrices=False)
    r = min(rank, s.size)
    root = np.sqrt(s[:r])
    M = DLoR(to_torch(np.array(alpha), W), to_torch(P[:, :r] * root, W), to_torch(Qt[:r].T * root, W), validate=False)
    if not return_certificate:
        return M
    ey = _residual(A, 0.0, rank)
    norm = float(np.linalg.norm(A)) or 1.0
    cert = Certificate(
        reconstruction_error=relative_error(W, M.to(dtype=W.dtype).to_dense().double()),
        method="piyavskii+brent",
        alpha=float(alpha),
        extras={"eckart_young_error": ey / norm, "optimality_gap": gap / norm, "svd_evaluations": len(evals)},
    )
    return M, cert
