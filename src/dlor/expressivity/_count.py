r"""Exact linear pieces of a scalar-input ReLU network along an interval.

A ReLU network ``f: R -> R^m`` is piecewise linear. Its breakpoints follow from the weights:
walk the layers, keeping the values of the current layer at a sorted set of input points
``t_0 < ... < t_K`` that contains every breakpoint so far. Between two consecutive points each
unit is linear, so a ReLU adds a breakpoint exactly where a unit changes sign between two
points, at ``t = t_i + (t_{i+1} - t_i) z_i / (z_i - z_{i+1})``; the values there follow by
linear interpolation. Alongside the values, the slope of every unit on every interval is
propagated by the same linear maps (a ReLU keeps the slope where the unit is positive on the
interval and zeroes it elsewhere), so the output's slopes are exact, not finite differences.

Two counts come out (Montufar et al. 2014; Serra et al. 2018; Hanin & Rolnick 2019):

* ``regions``: the intervals between breakpoints, on each of which the activation pattern is
  constant (the "linear regions" of the literature);
* ``pieces``: the maximal intervals on which the output is affine, i.e. ``1 +`` the number of
  breakpoints where the output's slope changes. ``pieces <= regions``.

Paper: Appendix D (the capacity of deep against wide networks), made exact for ReLU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .._errors import DLoRError
from ._program import Affine, ReLU, relu_program

__all__ = ["PieceCount", "count_pieces", "SLOPE_RTOL"]

SLOPE_RTOL = 1e-9  # a slope change below this fraction of the slopes' size is float64 rounding, not a kink


@dataclass(frozen=True)
class PieceCount:
    """What [`count_pieces`][dlor.expressivity.count_pieces] found on ``interval``.

    Attributes:
        pieces: maximal intervals on which the output is affine.
        regions: intervals of constant activation pattern (``>= pieces``).
        kinks: the input points where the output's slope changes, sorted, shape ``(pieces - 1,)``.
        breakpoints: every region boundary inside the interval, sorted, shape ``(regions - 1,)``.
        interval: the ``(a, b)`` that was counted on.
    """

    pieces: int
    regions: int
    kinks: Tensor
    breakpoints: Tensor
    interval: tuple[float, float]


def _check_interval(interval) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in interval)
    except (TypeError, ValueError):
        raise DLoRError(f"interval must be two numbers (a, b) with a < b, got {interval!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise DLoRError(f"interval must be finite, got ({a}, {b})")
    if not a < b:
        raise DLoRError(f"interval ({a}, {b}) is empty; pass (a, b) with a < b")
    return a, b


def _split_at_zeros(t: Tensor, H: Tensor) -> tuple[Tensor, Tensor]:
    """Add the points where a unit of ``H`` ``(K, n)`` changes sign between ``t_i`` and ``t_{i+1}``."""
    z0, z1 = H[:-1], H[1:]  # (K-1, n)
    i, j = torch.nonzero((z0 > 0) & (z1 < 0) | (z0 < 0) & (z1 > 0), as_tuple=True)
    if i.numel() == 0:
        return t, H
    frac = z0[i, j] / (z0[i, j] - z1[i, j])  # (c,) in (0, 1)
    t_new = t[i] + frac * (t[i + 1] - t[i])
    H_new = H[i] + frac[:, None] * (H[i + 1] - H[i])  # (c, n): every unit, linear on the interval
    H_new[torch.arange(i.numel()), j] = 0.0  # the unit that crosses is exactly zero there
    t_all, H_all = torch.cat([t, t_new]), torch.cat([H, H_new])
    order = torch.argsort(t_all, stable=True)
    t_all, H_all = t_all[order], H_all[order]
    # points that coincide (two units crossing at one t) become one, zero in every unit that crosses there
    new_group = torch.ones_like(t_all, dtype=torch.bool)
    new_group[1:] = t_all[1:] != t_all[:-1]
    if bool(new_group.all()):
        return t_all, H_all
    group = torch.cumsum(new_group.long(), 0) - 1  # (K',)
    zero = torch.zeros(int(group[-1]) + 1, H_all.shape[1], dtype=torch.long)
    zero.index_reduce_(0, group, (H_all == 0).long(), "amax", include_self=True)
    H_first = H_all[new_group]
    return t_all[new_group], torch.where(zero.bool(), torch.zeros_like(H_first), H_first)


def count_pieces(model: nn.Module, interval: tuple[float, float] = (-2.0, 2.0), rtol: float = SLOPE_RTOL) -> PieceCount:
    r"""Count the linear pieces of the scalar-input ReLU network ``model`` on ``interval``, exactly.

    The count comes from the weights (see the module docstring), in float64, with no sampling.
    Cost: ``O(sum_l K_l n_l)`` for ``K_l`` points and ``n_l`` units at layer ``l``.

    Args:
        model: a network [`relu_program`][dlor.expressivity.relu_program] accepts (the H.2 families with
            ``activation="relu"``, or an ``nn.Sequential`` of Linear / DLoRLinear / ReLU).
        interval: ``(a, b)``, ``a < b``, finite (default: the sawtooth's ``[-2, 2]``, Appendix H.1).
        rtol: relative size below which a slope change counts as rounding (default
            ``SLOPE_RTOL``).

    Returns:
        A [`PieceCount`][dlor.expressivity.PieceCount].

    Raises:
        DLoRError: an empty or non-finite interval, a network that is not piecewise linear
            (softplus), or an input width other than 1.
    """
    a, b = _check_interval(interval)
    program = relu_program(model)
    t = torch.tensor([a, b], dtype=torch.float64)
    H = t[:, None].clone()  # (K, 1): the input at the points
    S = torch.ones(1, 1, dtype=torch.float64)  # (K-1, 1): d(input)/dx on each interval
    for step in program:
        if isinstance(step, ReLU):
            t_new, H = _split_at_zeros(t, H)
            if t_new.numel() != t.numel():  # slopes of the split intervals: the old interval's slope
                owner = torch.searchsorted(t, t_new[:-1], right=True) - 1  # (K'-1,)
                S = S[owner]
            t = t_new
            positive = (H[:-1] + H[1:]) > 0  # (K-1, n): each unit keeps one sign on each interval
            S = torch.where(positive, S, torch.zeros_like(S))
            H = H.clamp_min(0.0)
        else:
            assert isinstance(step, Affine)
            H, S = step(H), step.linear(S)
    return _pieces_of(t, S, (a, b), rtol)


def _pieces_of(t: Tensor, S: Tensor, interval: tuple[float, float], rtol: float) -> PieceCount:
    """``S`` ``(K-1, m)``: the output's slopes on the intervals between the points ``t`` ``(K,)``."""
    size = torch.maximum(S[1:].abs(), S[:-1].abs()).amax(dim=1)  # (K-2,)
    floor = S.abs().max() * torch.finfo(S.dtype).eps * 16  # slopes that are zero up to rounding
    change = (S[1:] - S[:-1]).abs().amax(dim=1) > torch.clamp(rtol * size, min=float(floor))
    inner = t[1:-1]
    return PieceCount(
        pieces=int(change.sum()) + 1,
        regions=t.numel() - 1,
        kinks=inner[change].clone(),
        breakpoints=inner.clone(),
        interval=interval,
    )
