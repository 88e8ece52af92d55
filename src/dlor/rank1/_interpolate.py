r"""Exact interpolation by a network with a rank-1 hidden layer (Theorems 1, 9 and 10)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg
import torch
from torch import Tensor, nn

from .._errors import DLoRError, ShapeError, check_finite, check_floating
from ._activations import resolve_activation

__all__ = ["Rank1Net", "interpolate", "ActivationError"]


class ActivationError(DLoRError):
    """The activation cannot interpolate: its translates are (numerically) linearly dependent."""


class Rank1Net(nn.Module):
    r"""``f(x) = W_2 sigma(u_1 v_1^T x + b_1) + b_2``: a hidden layer of rank 1 (Section 3).

    Shapes: input ``(M, d)``; output ``(M,)`` for scalar targets, else ``(M, k)``.
    ``outer_weight`` is ``W_2`` of shape ``(k, N)`` (``v_2^T`` when ``k = 1``); its rank is
    what Theorem 2 (rank 1: affine collapse) and Theorem 10 (full rank: exact fit) are about.
    """

    def __init__(
        self,
        u1: Tensor,
        v1: Tensor,
        b1: Tensor,
        W2: Tensor,
        b2: Tensor,
        activation: Callable[[Tensor], Tensor],
        scalar_output: bool,
    ):
        super().__init__()
        self.u1 = nn.Parameter(u1)
        self.v1 = nn.Parameter(v1)
        self.b1 = nn.Parameter(b1)
        self.outer_weight = nn.Parameter(W2)
        self.b2 = nn.Parameter(b2)
        self.activation = activation
        self.scalar_output = scalar_output
        self.sharpness: float | None = None  # the chosen c and knot placement, set by interpolate
        self.knot_position: float | None = None

    def hidden(self, X: Tensor) -> Tensor:
        """``sigma(u_1 (X v_1) + b_1)``, shape ``(M, N)``."""
        return self.activation(torch.outer(X @ self.v1, self.u1) + self.b1)

    def forward(self, X: Tensor) -> Tensor:
        out = self.hidden(X) @ self.outer_weight.T + self.b2
        return out[:, 0] if self.scalar_output else out

    @property
    def width(self) -> int:
        return self.u1.shape[0]

    @property
    def outer_rank(self) -> int:
        return int(torch.linalg.matrix_rank(self.outer_weight.detach()))


def _merge_duplicates(X: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, first, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
    if uniq.shape[0] == X.shape[0]:
        return X, Z
    inverse = inverse.reshape(-1)
    for g in range(uniq.shape[0]):
        rows = np.flatnonzero(inverse == g)
        if rows.size > 1 and not np.allclose(Z[rows], Z[rows[0]], rtol=1e-12, atol=0):
            raise DLoRError(
                f"inputs {rows.tolist()} are identical but their targets differ; no function "
                f"can interpolate them. Remove or average the duplicates"
            )
    keep = np.sort(first)
    return X[keep], Z[keep]


def _projection(X: np.ndarray, seed: int) -> np.ndarray:
    """A unit ``v_1`` whose projections are distinct (Lemma 2) with the largest relative gap."""
    M, d = X.shape
    rng = np.random.default_rng(seed)
    cands = [rng.standard_normal(d) for _ in range(32)]
    if M > 1 and d > 1:
        cands.append(np.linalg.svd(X - X.mean(0), full_matrices=False)[2][0])
    best: np.ndarray | None = None
    best_score = -1.0
    for cand in cands:
        unit = cand / np.linalg.norm(cand)
        y = np.sort(X @ unit)
        spread = float(y[-1] - y[0])
        score = float(np.min(np.diff(y)) / spread) if M > 1 and spread > 0 else (1.0 if M == 1 else 0.0)
        if score > best_score:
            best = np.asarray(unit)
            best_score = score
    if best is None or best_score <= 0:
        raise DLoRError("could not find a projection with distinct values; are the inputs distinct?")
    return best


def interpolate(
    X, z, activation: str | Callable[[Tensor], Tensor] = "sigmoid", *, sharpness: float | None = None, seed: int = 0
) -> Rank1Net:
    r"""A width-``M`` network with a rank-1 hidden layer that reproduces ``z`` at ``X``.

    Paper: Theorem 9 (Heaviside, thermometer encoding), Theorem 1 (any continuous,
    non-mean-periodic ``sigma``) and Theorem 10 (vector targets through a full-rank outer
    layer). Construction:

    1. ``v_1``: the candidate direction (random, Lemma 2, or the principal axis) whose sorted
       projections ``y_(1) < ... < y_(M)`` have the largest minimum gap relative to their range.
    2. One threshold inside each gap, ``y_(i-1) < t_i < y_(i)`` (and ``t_1 < y_(1)``), at the
       midpoint as in Theorem 9 or at 10% of the gap (the interlacing of Appendix B.4 would
       leave the Heaviside matrix with a zero row). Each neuron has its own gain
       ``u_1[i] = c / d_i``, ``d_i`` the distance from ``t_i`` to the nearer neighbour, so it
       sees its neighbours at ``|u_1 (y - t)| >= c`` whatever the spacing and
       ``H[j, i] = sigma(u_1[i] (y_j - t_i))`` stays close to triangular and well conditioned
       (the literal Theorem 1 system with ``u_1 = 1`` is not). Knots near the left point keep
       the slopes of piecewise-linear (ReLU-like) interpolants from accumulating.
    3. Over these knot placements and a few ``c`` (``sharpness``), the outer weights solve the
       column-equilibrated system ``H W_2^T = Z`` by LU with one step of iterative
       refinement, and the candidate with the smallest measured residual is kept.

    Args:
        X: inputs, shape ``(M, d)``.
        z: targets, shape ``(M,)`` or ``(M, k)``.
        activation: a name (``heaviside, sigmoid, tanh, softplus, relu, gelu, silu, elu``) or
            any elementwise callable on tensors.
        sharpness: fix ``c`` instead of choosing it.
        seed: for the candidate projections.

    Returns:
        a float64 [`Rank1Net`][dlor.rank1.Rank1Net] with ``N = M'`` hidden units (``M'`` after merging
        duplicate inputs with equal targets).

    Raises:
        DLoRError: duplicate inputs with different targets; NaN/Inf; shape mismatch.
        ActivationError: the translates of ``sigma`` are numerically linearly dependent
            (polynomials, mean-periodic functions such as ``sin``, affine or constant maps),
            detected from the rank of ``H``, not from the name.
    """
    X = torch.as_tensor(X)
    z = torch.as_tensor(z)
    check_floating("X", X)
    check_floating("z", z)
    if X.dim() != 2:
        raise ShapeError(f"X must have shape (M, d), got {tuple(X.shape)}")
    if z.dim() not in (1, 2) or z.shape[0] != X.shape[0]:
        raise ShapeError(f"z must have shape (M,) or (M, k) with M = {X.shape[0]}, got {tuple(z.shape)}")
    if X.shape[0] == 0:
        raise ShapeError("X is empty")
    check_finite("X", X)
    check_finite("z", z)
    sigma = resolve_activation(activation)
    scalar = z.dim() == 1
    Xn = X.detach().double().cpu().numpy()
    Zn = z.detach().double().cpu().numpy().reshape(X.shape[0], -1)
    Xn, Zn = _merge_duplicates(Xn, Zn)
    M = Xn.shape[0]
    _check_translates_independent(sigma)
    v1 = _projection(Xn, seed)
    y = Xn @ v1
    ys = np.sort(y)
    gaps = np.diff(ys)
    first_gap = gaps[0] if M > 1 else max(abs(ys[0]), 1.0)
    yt = torch.from_numpy(y)
    sharp = [sharpness] if sharpness is not None else [4.0, 16.0, 1.0]
    eps = np.finfo(np.float64).eps
    best = None
    for theta in (0.5, 0.1):  # knot position inside each gap: midpoint, or near the left point
        left = np.empty(M)  # distance from the previous point to the knot
        right = np.empty(M)  # distance from the knot to the next point
        left[0], right[0] = (1 - theta) * first_gap, theta * first_gap
        left[1:], right[1:] = theta * gaps, (1 - theta) * gaps
        t = np.empty(M)
        t[0] = ys[0] - right[0]
        t[1:] = ys[:-1] + left[1:]
        for c in sharp:
            gain = torch.from_numpy(c / np.minimum(left, right))
            b1 = -gain * torch.from_numpy(t)
            H = sigma(torch.outer(yt, gain) + b1).numpy()  # (M data, N neurons), as in forward
            if not np.all(np.isfinite(H)):
                continue
            scale = np.abs(H).max(axis=0)  # column equilibration: unbounded activations grow with the gain
            scale[scale == 0] = 1.0
            Hs = H / scale
            lu = scipy.linalg.lu_factor(Hs, check_finite=False)
            norm1 = np.linalg.norm(Hs, 1)
            rcond = scipy.linalg.lapack.dgecon(lu[0], norm1, norm="1")[0] if norm1 > 0 else 0.0
            if not rcond > eps:
                continue
            W = scipy.linalg.lu_solve(lu, Zn)
            W += scipy.linalg.lu_solve(lu, Zn - Hs @ W)  # one step of iterative refinement
            W /= scale[:, None]
            err = float(np.max(np.abs(H @ W - Zn)))
            if best is None or err < best[0]:
                best = (err, c, theta, gain, b1, W)
    if best is None:
        raise ActivationError(
            f"the interpolation matrix of this activation is numerically singular on these {M} "
            f"points; Theorem 1 needs a continuous, non-mean-periodic activation. Use e.g. 'sigmoid'"
        )
    _, c, theta, gain, b1, W = best
    k = Zn.shape[1]
    net = Rank1Net(
        u1=gain.clone(),
        v1=torch.from_numpy(v1.copy()),
        b1=b1.clone(),
        W2=torch.from_numpy(np.ascontiguousarray(W.T)),
        b2=torch.zeros(k, dtype=torch.float64),
        activation=sigma,
        scalar_output=scalar,
    )
    net.sharpness, net.knot_position = c, theta
    return net


def _check_translates_independent(sigma, m: int = 8) -> None:
    """Raise [`ActivationError`][dlor.rank1.ActivationError] if ``m`` translates of ``sigma`` are numerically dependent.

    A property of ``sigma`` alone, probed on ``[-8, 8]`` with shifts ``0.37 j``: translates of
    a mean-periodic function (exponential polynomials: polynomials, ``sin``, ``cos``,
    ``exp``, affine and constant maps) span a space of fixed finite dimension, so their
    numerical rank stays below ``m``.
    """
    s = torch.linspace(-8.0, 8.0, 401, dtype=torch.float64)
    try:
        A = torch.stack([torch.as_tensor(sigma(s + 0.37 * j), dtype=torch.float64) for j in range(m)], 1)
    except Exception as err:  # noqa: BLE001 - a user callable may fail in any way
        raise ActivationError(f"the activation failed on a float64 tensor: {err}") from err
    if A.shape != (401, m) or not torch.isfinite(A).all():
        raise ActivationError("the activation must map a float64 tensor elementwise to finite values")
    sv = torch.linalg.svdvals(A)
    rank = int((sv > 1e-9 * sv[0]).sum()) if sv[0] > 0 else 0
    if rank < m:
        raise ActivationError(
            f"the translates of this activation are linearly dependent ({m} translates span only "
            f"{rank} dimensions), so no choice of thresholds interpolates generic data: Theorem 1 "
            f"needs a continuous, non-mean-periodic activation (polynomials, sin/cos, exp, affine "
            f"and constant functions do not qualify). Use e.g. 'sigmoid' or 'relu'"
        )
