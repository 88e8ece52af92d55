r"""Lower bounds on what rank-1 networks can reach: affine collapse and orthogonal blindness."""

from __future__ import annotations

import numpy as np
import scipy.optimize
import torch

from .._errors import ShapeError, check_finite, check_floating

__all__ = ["affine_collapse_bound", "blindness_bound", "conditional_variance"]


def _array(name, a) -> np.ndarray:
    t = torch.as_tensor(a)
    check_floating(name, t)
    check_finite(name, t)
    return t.detach().double().cpu().numpy()


def affine_collapse_bound(Z) -> float:
    r"""Least mean squared error of any network whose output layer has rank 1 (Theorem 2).

    Such a network outputs ``z_i = a_i u_2 + b_2``: points on one affine line in ``R^k``.
    The best line is the first principal axis through the mean, so the bound is
    ``sum_{i >= 2} sigma_i(Z - mean)^2 / (M k)``, in the units of ``nn.MSELoss()`` (mean over
    samples and output coordinates). ``Z`` has shape ``(M, k)``.
    """
    Z = _array("Z", Z)
    if Z.ndim != 2:
        raise ShapeError(f"Z must have shape (M, k), got {Z.shape}")
    M, k = Z.shape
    s = np.linalg.svd(Z - Z.mean(0), compute_uv=False)
    return float(np.sum(s[1:] ** 2) / (M * k))


def conditional_variance(X, f, v, bins: int | None = None) -> float:
    r"""Sample estimate of ``E[Var(f(x) | v^T x)]`` (Definition 2).

    Points are sorted by ``v^T x`` and grouped into ``bins`` equal-count bins (default
    ``round(sqrt(M))``); the result is the count-weighted mean of the within-bin variances.
    Any function of ``v^T x`` alone has mean squared error at least this quantity (up to
    the binning, which only adds the variation of ``E[f | v^T x]`` within a bin).
    """
    X, f = _array("X", X), _array("f", f).reshape(-1)
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[0] != f.shape[0] or X.shape[1] != v.shape[0]:
        raise ShapeError(f"need X (M, d), f (M,), v (d,); got {X.shape}, {f.shape}, {v.shape}")
    M = X.shape[0]
    bins = bins or max(1, int(round(np.sqrt(M))))
    order = np.argsort(X @ v, kind="stable")
    total = 0.0
    for idx in np.array_split(order, bins):
        if idx.size:
            total += idx.size * float(np.var(f[idx]))
    return total / M


def blindness_bound(X, f, v=None, bins: int | None = None, seed: int = 0):
    r"""Irreducible error of a network whose first layer is rank 1 with projection ``v``.

    With ``v`` given: [`conditional_variance`][dlor.rank1.conditional_variance] at ``v``. Without: its minimum over unit
    ``v``, returned as ``(bound, v_best)``; in 2-D by a sweep over 360 angles refined by a
    bounded scalar search, in higher dimension by 256 random starts refined by Nelder-Mead.
    """
    X = _array("X", X)
    if v is not None:
        return conditional_variance(X, f, v, bins)
    d = X.shape[1]
    if d == 1:
        return conditional_variance(X, f, [1.0], bins), np.array([1.0])
    if d == 2:

        def obj(theta):
            return conditional_variance(X, f, [np.cos(theta), np.sin(theta)], bins)

        grid = np.linspace(0, np.pi, 360, endpoint=False)
        vals = [obj(th) for th in grid]
        i = int(np.argmin(vals))
        res = scipy.optimize.minimize_scalar(obj, bounds=(grid[i] - np.pi / 360, grid[i] + np.pi / 360), method="bounded")
        theta = res.x if res.fun < vals[i] else grid[i]
        return min(res.fun, vals[i]), np.array([np.cos(theta), np.sin(theta)])
    rng = np.random.default_rng(seed)

    def objv(w):
        return conditional_variance(X, f, w / (np.linalg.norm(w) + 1e-300), bins)

    starts = rng.standard_normal((256, d))
    best = min(starts, key=objv)
    res = scipy.optimize.minimize(objv, best, method="Nelder-Mead")
    w = res.x / np.linalg.norm(res.x)
    return float(objv(w)), w
