r"""The nearest DLoR matrix in Frobenius norm: ``min ||W - alpha I - U V^T||_F``."""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from .._errors import check_rank
from .._matrix import DLoR
from ._common import Certificate, as_matrix, relative_error

__all__ = ["nearest_dlor"]

# Below this fraction of ||W||^2, h^2 = ||W - alpha I||^2 - sum sigma_i^2 computed from the Gram
# matrix keeps fewer than about 6 of its 16 digits: residuals are then formed directly.
_CANCELLATION = 1e-10


class _Profile:
    r"""``h(alpha)^2 = ||A - alpha E||_F^2 - sum_{i<=r} sigma_i(A - alpha E)^2`` of a tall ``A`` ``(m, n)``,
    ``m >= n``, ``E = [I_n; 0]``, from one Gram matrix.

    With ``G = A^T A`` and ``S = C + C^T``, ``C = A[:n]``: ``(A - alpha E)^T (A - alpha E) = G -
    alpha S + alpha^2 I``, so ``h^2 = q(alpha) - psi(alpha)`` with the convex quadratic ``q(alpha) =
    ||A||^2 - 2 alpha tr C + (n - r) alpha^2`` and ``psi(alpha)`` the sum of the ``r`` largest
    eigenvalues of ``G - alpha S``, convex in ``alpha`` (Ky Fan: a maximum of linear functions).
    One evaluation is one symmetric eigenvalue computation of an ``n x n`` matrix (no vectors),
    about a quarter of an SVD of ``A``. Float64 tensors, on ``A``'s device.
    """

    def __init__(self, A: Tensor, rank: int):
        self.rank = rank
        n = A.shape[1]
        self.G = A.T @ A
        C = A[:n]
        self.S = C + C.T
        self.norm2, self.trace, self.curv = float((A * A).sum()), float(C.trace()), n - rank
        self.values: dict[float, float] = {}  # alpha -> psi(alpha)
        self._vectors: dict[float, Tensor] = {}  # alpha -> top-r eigenvectors (right singular vectors)

    def q(self, alpha):
        return self.norm2 - 2 * alpha * self.trace + self.curv * alpha * alpha

    def psi(self, alpha: float) -> float:
        if alpha not in self.values:
            self.values[alpha] = float(torch.linalg.eigvalsh(self.G - alpha * self.S)[-self.rank:].sum())
        return self.values[alpha]

    def vectors(self, alpha: float) -> Tensor:
        """The top-r eigenvectors of ``G - alpha S``: the right singular vectors of ``A - alpha E``."""
        if alpha not in self._vectors:
            w, X = torch.linalg.eigh(self.G - alpha * self.S)
            self._vectors[alpha] = X[:, -self.rank:]
            self.values.setdefault(alpha, float(w[-self.rank:].sum()))
        return self._vectors[alpha]

    def h2(self, alpha: float) -> float:
        return self.q(alpha) - self.psi(alpha)

    def interval_bound(self, a: float, b: float) -> tuple[float, float]:
        """``(lower bound of h^2 on [a, b], where it is attained)``: ``psi`` lies below its chord."""
        pa, pb = self.values[a], self.values[b]
        slope = (pb - pa) / (b - a)
        # q(x) - pa - slope (x - a) is a convex quadratic: its minimiser, clipped to [a, b]
        x = min(max((2 * self.trace + slope) / (2 * self.curv), a), b)
        return self.q(x) - pa - slope * (x - a), x


def _vertex(prof: _Profile, pts: list[float], a: float, b: float, x: float) -> float:
    """Where to evaluate next in ``[a, b]``, the interval of the lowest bound (``x``: its minimiser).
    When the best point so far is an end of it, the vertex of the parabola through the best point
    and its two neighbours (Brent's successive parabolic step: superlinear near the minimum,
    where the chord bound alone closes the gap only linearly), kept away from the ends."""
    best = min(pts, key=prof.h2)
    i = pts.index(best)
    if best not in (a, b) or i == 0 or i == len(pts) - 1:
        return x
    (x0, x1, x2) = pts[i - 1 : i + 2]
    f0, f1, f2 = prof.h2(x0), prof.h2(x1), prof.h2(x2)
    den = (x1 - x0) * (f1 - f2) - (x1 - x2) * (f1 - f0)
    if den == 0:
        return x
    v = x1 - ((x1 - x0) ** 2 * (f1 - f2) - (x1 - x2) ** 2 * (f1 - f0)) / (2 * den)
    margin = 1e-3 * (b - a)
    return v if a + margin < v < b - margin else x


def _truncation(A: Tensor, alpha: float, X: Tensor) -> tuple[Tensor, Tensor]:
    """Balanced factors ``(P, Q)`` of ``(A - alpha E) X X^T``, the best rank-r part when ``X`` holds the
    top right singular vectors of ``A - alpha E``."""
    n = A.shape[1]
    Y = A @ X
    Y[:n] -= alpha * X
    root = Y.norm(dim=0).sqrt()
    return Y / torch.where(root > 0, root, 1.0), X * root


def _residual_norm(A: Tensor, alpha: float, P: Tensor, Q: Tensor) -> float:
    R = A - P @ Q.T
    R.diagonal().sub_(alpha)
    return float(R.norm())


def _polish(A: Tensor, prof: _Profile, alpha: float, P: Tensor, Q: Tensor, err: float, steps: int = 6):
    """Alternating steps from the search's ``alpha``: the best ``alpha`` for the current low-rank part
    (the mean diagonal of the residual), then the truncation again. They contract towards the
    optimum at the rate of about ``r / n`` near it; an Aitken extrapolation of three iterates
    jumps to the limit. Every candidate's residual is computed directly, so this recovers an
    exact DLoR to rounding where ``h^2`` from the Gram matrix has cancelled."""
    k = A.shape[1]
    seq = [alpha]
    for _ in range(steps):
        candidates = [float(A[:k].trace() - (P[:k] * Q).sum()) / k]
        if len(seq) >= 2:
            a0, a1, a2 = seq[-2], seq[-1], candidates[0]
            curve = a2 - 2 * a1 + a0
            if curve != 0:
                candidates.append(a0 - (a1 - a0) ** 2 / curve)
        improved = False
        for a in candidates:
            if a in prof.values and a != candidates[0]:
                continue
            P2, Q2 = _truncation(A, a, prof.vectors(a))
            err2 = _residual_norm(A, a, P2, Q2)
            if err2 < err:
                alpha, P, Q, err, improved = a, P2, Q2, err2, True
        if not improved:
            break
        seq.append(alpha)
    return alpha, P, Q, err


def nearest_dlor(W, rank: int, *, rtol: float = 1e-6, max_evals: int = 200, return_certificate: bool = False):
    r"""The DLoR ``(alpha, U, V)`` minimising ``||W - alpha I - U V^T||_F`` with ``rank(U V^T) <= rank``.

    For fixed ``alpha`` the best ``U V^T`` is the Eckart-Young truncation of ``W - alpha I``
    (``I`` the ``m x n`` identity of Remark 2), so the problem is the scalar profile
    ``h(alpha)^2 = ||W - alpha I||_F^2 - sum_{i<=r} sigma_i(W - alpha I)^2``. Its first term is a
    closed-form quadratic and the second, a sum of top eigenvalues of ``G - alpha S`` with ``G =
    W^T W`` formed once (:class:`_Profile`), is convex in ``alpha``. A branch and bound over
    ``alpha`` bounds ``h^2`` from below on every interval between evaluated points (the convex term
    lies below its chord) and stops when the best value found is within ``rtol`` (relative, on
    ``h^2``) of the lowest bound: the global minimum, certified, typically after 5-15 symmetric
    eigenvalue computations (parabolic steps next to the best point speed up the end). The search
    covers ``|alpha| <= sigma_max(W) sqrt(k / (k - r))``, ``k = min(m, n)``, where the optimum
    lies. Where ``h^2`` from the Gram matrix has cancelled (an almost exact DLoR), alternating
    steps with an Aitken extrapolation (:func:`_polish`) refine the result on directly computed
    residuals, so an exact ``alpha I + U V^T`` is recovered to rounding. Never worse than the
    Eckart-Young truncation (``alpha = 0`` is evaluated); strictly better when ``W`` has an
    identity component.

    Cost: one product ``W^T W``, the eigenvalue computations and one eigendecomposition with
    vectors; 1.0-3.7x one full SVD of ``W`` at the shapes of ``benchmarks/bench_nearest.py``.

    Args:
        W: shape ``(m, n)``.
        rank: ``>= 1``.
        rtol: relative optimality tolerance on ``h^2`` of the global search.
        max_evals: cap on eigendecompositions; the certificate reports the gap reached.

    Returns:
        a :class:`DLoR` (with ``return_certificate``, also a :class:`Certificate` whose
        ``extras`` hold the Eckart-Young error, the optimality gap and the evaluation count).
    """
    W = as_matrix(W)
    rank = check_rank(rank)
    m, n = W.shape
    k = min(m, n)
    A0 = W.detach().double()
    A = A0 if m >= n else A0.T  # tall: ||W - alpha I|| and the truncation are transpose-invariant
    norm = float(A.norm()) or 1.0
    gap = 0.0
    if rank >= k:
        alpha, P, Q = 0.0, A, torch.eye(k, dtype=A.dtype, device=A.device)
        evals, ey = 0, 0.0
    else:
        prof = _Profile(A, rank)
        tol_abs = 1e-14 * prof.norm2
        w0 = torch.linalg.eigvalsh(prof.G)  # psi(0) and sigma_max(W) from one computation
        prof.values[0.0] = float(w0[-rank:].sum())
        sigma_max = math.sqrt(max(float(w0[-1]), 0.0))
        bound = sigma_max * math.sqrt(k / (k - rank)) + 1e-300
        for x in sorted({-bound, 0.0, bound, prof.trace / k}):
            prof.psi(x)
        while True:
            pts = sorted(prof.values)
            best = min(prof.h2(x) for x in pts)
            bounds = [prof.interval_bound(a, b) + (a, b) for a, b in itertools.pairwise(pts)]
            low, x, a, b = min(bounds)
            gap = math.sqrt(max(best, 0.0)) - math.sqrt(max(low, 0.0))  # on h, not h^2
            if best - low <= rtol * best + tol_abs or len(prof.values) >= max_evals:
                break
            x = _vertex(prof, pts, a, b, x)
            if x in prof.values:  # the bound's minimiser is an end point: split the interval
                x = (a + b) / 2
            prof.psi(x)
        alpha = min(prof.values, key=prof.h2)
        P, Q = _truncation(A, alpha, prof.vectors(alpha))
        if prof.h2(alpha) < _CANCELLATION * prof.norm2:  # h^2 from the Gram matrix has lost its digits
            alpha, P, Q, _ = _polish(A, prof, alpha, P, Q, _residual_norm(A, alpha, P, Q))
        evals = len(prof.values)
        ey = math.sqrt(max(prof.h2(0.0), 0.0))
        if ey**2 < _CANCELLATION * prof.norm2:
            ey = _residual_norm(A, 0.0, *_truncation(A, 0.0, prof.vectors(0.0)))
    if m < n:
        P, Q = Q, P
    like = dict(dtype=W.dtype, device=W.device)
    M = DLoR(torch.tensor(alpha, **like), P.to(**like).contiguous(), Q.to(**like).contiguous(), validate=False)
    if not return_certificate:
        return M
    cert = Certificate(
        reconstruction_error=relative_error(W, M.to(dtype=W.dtype).to_dense().double()),
        method="gram-branch-and-bound",
        alpha=float(alpha),
        extras={"eckart_young_error": ey / norm, "optimality_gap": max(gap, 0.0) / norm,
                "eigendecompositions": evals},
    )
    return M, cert
