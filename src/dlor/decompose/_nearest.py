r"""The nearest DLoR matrix in Frobenius norm: ``min ||W - alpha I - U V^T||_F``."""

from __future__ import annotations

import itertools
import math
from typing import Literal, overload

import torch
from torch import Tensor

from .._errors import check_rank
from .._matrix import DLoR
from ._common import Certificate, MatrixLike, as_matrix, relative_error

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
        self.values: dict[float, float] = {}  # alpha -> psi(alpha), exact
        self.upper: dict[float, float] = {}  # alpha -> an upper bound of psi(alpha) (from a _LocalBound)
        self._vectors: dict[float, Tensor] = {}  # alpha -> top-r eigenvectors (right singular vectors)

    def q(self, alpha: float) -> float:
        return self.norm2 - 2 * alpha * self.trace + self.curv * alpha * alpha

    def psi(self, alpha: float) -> float:
        if alpha not in self.values:
            self.values[alpha] = float(torch.linalg.eigvalsh(self.G - alpha * self.S)[-self.rank :].sum())
        return self.values[alpha]

    def vectors(self, alpha: float) -> Tensor:
        """The top-r eigenvectors of ``G - alpha S``: the right singular vectors of ``A - alpha E``."""
        if alpha not in self._vectors:
            w, X = torch.linalg.eigh(self.G - alpha * self.S)
            self._vectors[alpha] = X[:, -self.rank :]
            self.values.setdefault(alpha, float(w[-self.rank :].sum()))
        return self._vectors[alpha]

    def h2(self, alpha: float) -> float:
        return self.q(alpha) - self.psi(alpha)

    def bound_at(self, alpha: float) -> float:
        """``psi(alpha)`` where it was computed, else the upper bound stored for ``alpha``."""
        return self.values[alpha] if alpha in self.values else self.upper[alpha]

    def interval_bound(self, a: float, b: float) -> tuple[float, float]:
        """``(lower bound of h^2 on [a, b], where it is attained)``: ``psi`` lies below its chord (and so
        below the chord of upper bounds at the ends)."""
        pa, pb = self.bound_at(a), self.bound_at(b)
        slope = (pb - pa) / (b - a)
        # q(x) - pa - slope (x - a) is a convex quadratic: its minimiser, clipped to [a, b]
        x = min(max((2 * self.trace + slope) / (2 * self.curv), a), b)
        return self.q(x) - pa - slope * (x - a), x


class _LocalBound:
    r"""Upper bounds of ``psi`` near ``alpha0`` from one eigendecomposition there, each ``O(p^3)``, ``p << n``.

    In the eigenbasis ``X`` of ``M0 = G - alpha0 S`` split into its top ``p`` vectors ``T`` and the
    rest ``R``, ``M(alpha0 + t) = [[A, B], [B^T, C]]`` with ``A = Lambda_T - t S_TT``, ``B = -t S_TR``,
    ``C = Lambda_R - t S_RR``. Then, for every ``eps > 0``:

    * ``M <= diag(A + B B^T / eps, C + eps I)`` in the Loewner order (the difference is
      ``[[B B^T / eps, -B], [-B^T, eps I]] >= 0``), so ``psi <= top_r`` of the union of the
      eigenvalues of ``A + t^2 K / eps``, ``K = S_TR S_RT = (S X_T)^T (S X_T) - S_TT^2``, and of ``C +
      eps I``, each of which is at most ``lambda_{p+1} + |t| ||S||_2 + eps`` (Weyl), with
      ``||S||_2 <= 2 ||C_A||_2 <= 2 sigma_max(A)``.

    The bound exceeds ``psi`` by a term second order in ``t``, which is what certifying the minimum
    needs near the optimum, where chords of exact values close only linearly.
    """

    def __init__(self, prof: _Profile, alpha0: float, p: int, s_norm: float):
        r = prof.rank
        w, X = torch.linalg.eigh(prof.G - alpha0 * prof.S)  # ascending
        prof._vectors.setdefault(alpha0, X[:, -r:])
        prof.values.setdefault(alpha0, float(w[-r:].sum()))
        self.XT = XT = X[:, -p:]
        Y = prof.S @ XT
        self.St = XT.T @ Y
        K = Y.T @ Y - self.St @ self.St
        K = (K + K.T) / 2
        k_eig = torch.linalg.eigvalsh(K)
        # K >= 0 in exact arithmetic; a shift lifts its rounding (negative eigenvalues of ~1e-16 ||S||^2,
        # which a small eps would blow up) so that the bounds stay bounds
        shift = max(-float(k_eig[0]), 0.0) + 1e-14 * max(float(k_eig[-1]), s_norm * s_norm, 1e-300)
        self.K = K + shift * torch.eye(p, dtype=K.dtype, device=K.device)
        self.k_norm = float(k_eig[-1]) + shift
        self.lam = w[-p:]
        self.lam_next = float(w[-p - 1])
        self.alpha0, self.r, self.rest, self.s_norm = alpha0, r, w.numel() - p, s_norm

    def bounds(self, alpha: float) -> tuple[float, float]:
        """``(lower, upper)`` bounds of ``psi(alpha)`` from two ``p x p`` eigenvalue computations.

        Lower: the top-``r`` sum of ``A`` (Ky Fan over the frames inside span ``T``; its Ritz vectors
        reach it, see ``frame``). Upper: with ``eps`` no larger than ``room = lambda_r(A) - cap``
        every eigenvalue of the ``C`` block stays below the top ``r`` of ``A + t^2 K / eps`` (which only
        grow with ``K >= 0``), so the bound is the top-``r`` sum of that ``p x p`` matrix alone,
        decreasing in ``eps``: ``eps = room``, with ``lambda_r(A) >= lambda_r(Lambda_T) - |t| ||S||_2``
        (Weyl). Where there is no room, the top ``r`` of the first block's eigenvalues together with
        ``n - p`` copies of ``cap + eps``.
        """
        t = alpha - self.alpha0
        A = torch.diag(self.lam) - t * self.St
        cap = self.lam_next + abs(t) * self.s_norm
        room = float(self.lam[-self.r]) - abs(t) * self.s_norm - cap
        if t == 0:
            return (value := float(self.lam[-self.r :].sum())), value
        # without room, any eps still bounds psi by the top r of both blocks' eigenvalue bounds together;
        # eps = |t| sqrt(||K||) balances the two blocks' shifts (far from alpha0, where bounds may be loose)
        eps = room if room > 0 else abs(t) * math.sqrt(self.k_norm) + 1e-300
        ev = torch.linalg.eigvalsh(torch.stack([A, A + (t * t / eps) * self.K]))
        lower = float(ev[0, -self.r :].sum())
        if room > 0:
            return lower, float(ev[1, -self.r :].sum())
        top = torch.cat([ev[1], torch.full((min(self.r, self.rest),), cap + eps, dtype=A.dtype, device=A.device)])
        return lower, float(top.topk(self.r).values.sum())

    def frame(self, alpha: float) -> Tensor:
        """The top-``r`` Ritz vectors ``(n, r)`` of ``G - alpha S`` in span ``T``: a feasible frame whose
        truncation error is exactly ``q(alpha) - lower``."""
        _, Z = torch.linalg.eigh(torch.diag(self.lam) - (alpha - self.alpha0) * self.St)
        ritz: Tensor = self.XT @ Z[:, -self.r :]
        return ritz


def _vertex(prof: _Profile, pts: list[float], a: float, b: float, x: float) -> float:
    """Where to evaluate next in ``[a, b]``, the interval of the lowest bound (``x``: its minimiser).
    When the best point so far is an end of it, the vertex of the parabola through the best point
    and its two neighbours (Brent's successive parabolic step: superlinear near the minimum,
    where the chord bound alone closes the gap only linearly), kept away from the ends."""
    pts = [p for p in pts if p in prof.values]
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


def _polish(
    A: Tensor, prof: _Profile, alpha: float, P: Tensor, Q: Tensor, err: float, steps: int = 6
) -> tuple[float, Tensor, Tensor, float]:
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


@overload
def nearest_dlor(
    W: MatrixLike, rank: int, *, rtol: float = ..., max_evals: int = ..., return_certificate: Literal[False] = ...
) -> DLoR: ...
@overload
def nearest_dlor(
    W: MatrixLike, rank: int, *, rtol: float = ..., max_evals: int = ..., return_certificate: Literal[True]
) -> tuple[DLoR, Certificate]: ...
def nearest_dlor(
    W: MatrixLike, rank: int, *, rtol: float = 1e-6, max_evals: int = 200, return_certificate: bool = False
) -> DLoR | tuple[DLoR, Certificate]:
    r"""The DLoR ``(alpha, U, V)`` minimising ``||W - alpha I - U V^T||_F`` with ``rank(U V^T) <= rank``.

    For fixed ``alpha`` the best ``U V^T`` is the Eckart-Young truncation of ``W - alpha I``
    (``I`` the ``m x n`` identity of Remark 2), so the problem is the scalar profile
    ``h(alpha)^2 = ||W - alpha I||_F^2 - sum_{i<=r} sigma_i(W - alpha I)^2``. Its first term is a
    closed-form quadratic and the second, a sum of top eigenvalues of ``G - alpha S`` with ``G =
    W^T W`` formed once (``_Profile``), is convex in ``alpha``. A branch and bound over
    ``alpha`` bounds ``h^2`` from below on every interval between evaluated points (the convex term
    lies below its chord, and below the chord of any upper bounds at the ends) and stops when the
    best value found is within ``rtol`` (relative, on ``h^2``) of the lowest bound: the global
    minimum, certified. Near a point where ``G - alpha S`` was decomposed once, ``psi`` is bounded
    from both sides by ``p x p`` eigenvalue problems, ``p = 2 r + 16`` (``_LocalBound``, second
    order in the distance), which certify the neighbourhood of the optimum for a fraction of an
    ``n x n`` eigenvalue computation each; the lower bound comes with a Ritz frame, a feasible
    point. The ends of the search carry Ky Fan upper bounds from the eigenvalues at 0. The search
    covers ``|alpha| <= sigma_max(W) sqrt(k / (k - r))``, ``k = min(m, n)``, where the optimum
    lies. Where ``h^2`` from the Gram matrix has cancelled (an almost exact DLoR), alternating
    steps with an Aitken extrapolation (``_polish``) refine the result on directly computed
    residuals, so an exact ``alpha I + U V^T`` is recovered to rounding. Never worse than the
    Eckart-Young truncation (``alpha = 0`` is evaluated); strictly better when ``W`` has an
    identity component.

    Cost: one product ``W^T W``, typically 2-5 eigendecompositions of ``n x n`` matrices (one or
    two with vectors) and a few dozen ``p x p`` ones; 0.5-2.9x one full SVD of ``W`` at the shapes
    of ``benchmarks/bench_nearest.py``.

    Args:
        W: shape ``(m, n)``.
        rank: ``>= 1``.
        rtol: relative optimality tolerance on ``h^2`` of the global search.
        max_evals: cap on eigendecompositions; the certificate reports the gap reached.

    Returns:
        a [`DLoR`][dlor.DLoR] (with ``return_certificate``, also a [`Certificate`][dlor.Certificate] whose
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
        evals, n_local, ey = 0, 0, 0.0
    else:
        prof = _Profile(A, rank)
        tol_abs = 1e-14 * prof.norm2
        w0 = torch.linalg.eigvalsh(prof.G)  # psi(0) and sigma_max(W) from one computation
        prof.values[0.0] = float(w0[-rank:].sum())
        sigma_max = math.sqrt(max(float(w0[-1]), 0.0))
        bound = sigma_max * math.sqrt(k / (k - rank)) + 1e-300
        # the ends of the search: Ky Fan, psi(+-bound) <= psi(0) + bound * top_r(-+S), and top_r(+-S) <= 2 sum_{i<=r}
        # sigma_i(C) <= 2 sum_{i<=r} sigma_i(A): upper bounds from the one eigenvalue computation at 0
        ray = 2 * float(w0[-rank:].clamp(min=0).sqrt().sum()) * (1 + 1e-12)
        for x in (-bound, bound):
            prof.upper[x] = prof.values[0.0] + bound * ray
        # local bounds (_LocalBound): near a point where G - alpha S was decomposed once, psi is bounded
        # from both sides by p x p eigenvalue problems, p << k, instead of k x k ones
        p_local = min(2 * rank + 16, k // 2)
        s_norm = 2 * sigma_max * (1 + 1e-12)  # ||S||_2 <= 2 ||C||_2 <= 2 sigma_max(A)
        guess = min(max(prof.trace / k, -bound), bound)  # the best alpha when the low-rank part is ignored
        local = _LocalBound(prof, guess, p_local, s_norm) if p_local > rank else None
        if local is None:
            prof.psi(guess)
        feasible: dict[float, tuple[float, _LocalBound]] = {}  # alpha -> (h^2 of its Ritz frame, its bound)
        rebuilds = 0
        while True:
            pts = sorted(prof.values.keys() | prof.upper.keys())
            best = min([prof.h2(x) for x in prof.values] + [v for v, _ in feasible.values()])
            bounds = [prof.interval_bound(a, b) + (a, b) for a, b in itertools.pairwise(pts)]
            low, x, a, b = min(bounds)
            gap = math.sqrt(max(best, 0.0)) - math.sqrt(max(low, 0.0))  # on h, not h^2
            if best - low <= rtol * best + tol_abs or len(prof.values) >= max_evals or len(pts) >= 4 * max_evals:
                break
            x = _vertex(prof, pts, a, b, x)
            if x in prof.values:  # the bound's minimiser is an end point: split the interval
                x = (a + b) / 2
            elif x in prof.upper:  # an end point's upper bound, not psi, holds the search back: compute psi
                prof.psi(x)
                continue
            if local is not None:
                lower, upper = local.bounds(x)
                # never above the chord through x's neighbours, itself an upper bound by convexity
                upper = min(upper, prof.bound_at(a) + (prof.bound_at(b) - prof.bound_at(a)) * (x - a) / (b - a))
                # the bounds stand in for psi(x) where they are tight, or where x holds no better point
                if upper - lower <= 0.5 * rtol * best or prof.q(x) - upper >= best * (1 - rtol):
                    prof.upper[x] = upper
                    feasible[x] = (prof.q(x) - lower, local)
                    continue
                if prof.q(x) - lower <= best * (1 + 1e-4) and rebuilds < 4:  # x is near the best: decompose there
                    local, rebuilds = _LocalBound(prof, x, p_local, s_norm), rebuilds + 1
                    continue
            prof.psi(x)
        alpha = min(prof.values, key=prof.h2)
        h2 = prof.h2(alpha)
        if feasible:
            near = min(feasible, key=lambda x: feasible[x][0])
            if feasible[near][0] < h2:
                alpha, h2 = near, feasible[near][0]
        X = prof.vectors(alpha) if alpha in prof.values else feasible[alpha][1].frame(alpha)
        P, Q = _truncation(A, alpha, X)
        if h2 < _CANCELLATION * prof.norm2:  # h^2 from the Gram matrix has lost its digits
            alpha, P, Q, _ = _polish(A, prof, alpha, P, Q, _residual_norm(A, alpha, P, Q))
        evals, n_local = len(prof.values), len(feasible)  # the ends' Ky Fan bounds are not local bounds
        ey = math.sqrt(max(prof.h2(0.0), 0.0))
        if ey**2 < _CANCELLATION * prof.norm2:
            ey = _residual_norm(A, 0.0, *_truncation(A, 0.0, prof.vectors(0.0)))
    if m < n:
        P, Q = Q, P
    dt, dev = W.dtype, W.device
    M = DLoR(torch.tensor(alpha, dtype=dt, device=dev), P.to(dev, dt).contiguous(), Q.to(dev, dt).contiguous(), validate=False)
    if not return_certificate:
        return M
    cert = Certificate(
        reconstruction_error=relative_error(W, M.to(dtype=W.dtype).to_dense().double()),
        method="gram-branch-and-bound",
        alpha=float(alpha),
        extras={
            "eckart_young_error": ey / norm,
            "optimality_gap": max(gap, 0.0) / norm,
            "eigendecompositions": evals,
            "local_bounds": n_local,
        },
    )
    return M, cert
