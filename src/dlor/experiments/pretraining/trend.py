"""The size trend of ``dlor reproduce lm`` with its uncertainty: power laws bootstrapped over seeds,
and the size at which DLoR's advantage over low-rank would reach zero.

Each variant's loss is fitted as ``L(N) = a N^-b`` (least squares on ``log L`` against ``log N``,
``N`` the whole model's parameters) through the medians over the fresh seeds at each size. A
bootstrap resample draws, at every size independently, as many seeds as there are with
replacement, and refits; the interval of ``b`` is the 2.5th to 97.5th percentile over
``cfg.bootstrap`` resamples (one generator, seeded, so a rerun gives the same interval).

The gap ``L_lowrank(N) - L_dlor(N)`` reaches zero where the two fitted laws meet,
``N* = (a_lowrank / a_dlor)^(1 / (b_lowrank - b_dlor))``. It lies ahead (beyond the largest
size) only when low-rank's exponent is the larger; otherwise the laws do not meet above the sizes
measured. Each resample gives its own ``N*`` (or none), so the crossing is reported as a median
and interval over the resamples that cross ahead, with the share of resamples that cross within
``cfg.crossing_span`` times the largest size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["power_law", "bootstrap"]

SEED = 0  # the bootstrap's generator


def power_law(params: Sequence[float], losses: Sequence[float]) -> tuple[float, float]:
    """``(a, b)`` of ``loss = a * params^-b`` by least squares in log-log."""
    slope, intercept = np.polyfit(np.log(params), np.log(losses), 1)
    return float(math.exp(intercept)), float(-slope)


def _crossing(low: tuple[float, float], dlor: tuple[float, float], largest: float) -> float:
    """Where low-rank's and DLoR's laws meet beyond ``largest`` parameters; inf when they do not."""
    (a_l, b_l), (a_d, b_d) = low, dlor
    if b_l <= b_d:
        return math.inf
    n = math.exp(math.log(a_l / a_d) / (b_l - b_d))
    return n if n > largest else math.inf


def bootstrap(cfg, losses: dict[tuple[int, str], list[float]], params: dict[tuple[int, str], int], variants) -> tuple[list, dict]:
    """Exponent intervals per variant and the low-rank/DLoR crossing.

    Args:
        losses: ``(width, variant) -> `` the fresh seeds' validation losses (finite ones).
        params: ``(width, variant) -> `` the model's parameters.
        variants: the variants to fit.

    Returns:
        ``(rows, crossing)``: one row per variant (``exponent_b`` from the medians, ``b_low`` and
        ``b_high`` from the bootstrap), and the crossing's point estimate, median, interval, share
        of resamples crossing ahead within ``cfg.crossing_span`` times the largest size.
    """
    rng = np.random.default_rng(SEED)
    widths = sorted({w for w, _ in losses})
    rows, draws = [], {}
    for v in variants:
        sizes = [w for w in widths if losses.get((w, v))]
        if len(sizes) < 2:
            continue
        x = [params[(w, v)] for w in sizes]
        point = power_law(x, [float(np.median(losses[(w, v)])) for w in sizes])
        samples = []
        for _ in range(cfg.bootstrap):
            meds = [float(np.median(rng.choice(losses[(w, v)], size=len(losses[(w, v)])))) for w in sizes]
            samples.append(power_law(x, meds))
        draws[v] = samples
        b = np.array([s[1] for s in samples])
        rows.append(
            {
                "variant": v,
                "a": point[0],
                "exponent_b": point[1],
                "b_low": float(np.percentile(b, 2.5)),
                "b_high": float(np.percentile(b, 97.5)),
                "sizes": len(sizes),
                "resamples": cfg.bootstrap,
            }
        )
    crossing: dict = {}
    fit = {r["variant"]: (r["a"], r["exponent_b"]) for r in rows}
    if "lowrank" in draws and "dlor" in draws:
        largest = float(max(params[(w, "dlor")] for w in widths if (w, "dlor") in params))
        ahead = [_crossing(lo, dl, largest) for lo, dl in zip(draws["lowrank"], draws["dlor"], strict=True)]
        finite = np.array([n for n in ahead if math.isfinite(n)])
        within = float(np.mean([n <= cfg.crossing_span * largest for n in ahead]))
        crossing = {
            "largest_params": largest,
            "span": cfg.crossing_span,
            "point": _crossing(fit["lowrank"], fit["dlor"], largest),
            "median": float(np.median(finite)) if finite.size else math.inf,
            "low": float(np.percentile(finite, 2.5)) if finite.size else math.inf,
            "high": float(np.percentile(finite, 97.5)) if finite.size else math.inf,
            "share_ahead": float(finite.size / len(ahead)),
            "share_within_span": within,
        }
    return rows, crossing
