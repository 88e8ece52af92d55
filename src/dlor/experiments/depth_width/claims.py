"""The verdicts of the depth-against-width study, each from a threshold stated beside it."""

from __future__ import annotations

import math

import numpy as np

from .._common import Claim
from .._data import TARGET_VARIANCE
from .._summary import wording

GROWTH_BITS_PER_LAYER = 0.2  # "exponential": the wide minimum grows by >= 2^0.2 per added tent (the bound gives ~1/3)
EXACT_TOLERANCE = 1e-12  # the construction against the closed form, float64
INIT_RATIO = 1.2  # "more pieces per parameter": deep over wide, median over the matched budgets
LEARNED_FRACTION = 0.5  # a cell has learned when its median test MSE is below half the trivial predictor's


@wording("expressivity.construction")
def _construction_words(
    depth: int, exact: bool, error: float, deep_params: int, wide_params: int, slope: float, from_depth: int
) -> str:
    return (
        f"L = 1..{depth}: the deep construction has exactly 2^L pieces "
        f"(counted: {'all equal' if exact else 'NOT all equal'}; "
        f"max error to the closed form {float(error):.1e}, tolerance {EXACT_TOLERANCE:.0e}) with 7L + 7 parameters "
        f"({deep_params} at L = {depth}); the smallest wide network the piece bound allows needs "
        f"{wide_params} ({wide_params / deep_params:.1f}x), growing {float(slope):.2f} bits per added L over L >= {from_depth} "
        f"(exponential if >= {GROWTH_BITS_PER_LAYER})"
    )


@wording("expressivity.init")
def _init_words(
    budgets: int, median: float = math.nan, low: float = math.nan, high: float = math.nan, dense: float = math.nan
) -> str:
    if budgets == 0:
        return "no matched budgets"
    return (
        f"deep / wide pieces per parameter at {budgets} matched budgets: median {float(median):.2f}, range "
        f"{float(low):.2f}-{float(high):.2f} (confirmed if median >= {INIT_RATIO} and every budget > 1; partly if "
        f"median > 1); matched dense / deep: median {float(dense):.2f}"
    )


@wording("expressivity.trained")
def _trained_words(
    threshold: float,
    fraction: float,
    learned: int,
    cells_total: int,
    deep_wins: int = 0,
    wide_wins: int = 0,
    cells: int = 0,
    tops: str = "",
    unjudged: int = 0,
) -> str:
    head = (
        f"target: median test MSE <= {float(threshold):.2g} ({float(fraction):.0%} of the variance "
        f"{TARGET_VARIANCE:.3f}); {learned} of {cells_total} (family, budget, lambda, activation) cells "
        f"learned (median below {LEARNED_FRACTION:.0%} of the variance)"
    )
    if unjudged:
        head += f"; {unjudged} (lambda, activation) cell(s) not judged: a DLoR family's best rate on an edge of its grid"
    if cells == 0:
        return head + "; no DLoR budget reached the target at any frequency"
    return (
        f"{head}; smallest budget rung reaching it: deep smaller in {deep_wins}, wide smaller in {wide_wins}, the same in "
        f"{cells - deep_wins - wide_wins} of {cells} (lambda, activation) cells; at the highest frequency "
        f"reached: {tops} (confirmed if deep needs a smaller rung there and wide never does; partly if deep needs "
        f"a smaller rung in more cells)"
    )


def _construction_claim(rows: list[dict]) -> Claim:
    exact = all(r["deep_pieces_counted"] == r["target_pieces"] for r in rows)
    err = max(r["deep_max_abs_error"] for r in rows)
    upper = [r for r in rows if r["L"] >= max(1, rows[-1]["L"] // 2)]
    if len(upper) >= 2:
        slope = float(np.polyfit([r["L"] for r in upper], [math.log2(r["wide_min_params"]) for r in upper], 1)[0])
    else:
        slope = math.nan
    last = rows[-1]
    ratio = last["wide_min_params"] / last["deep_params"]
    ok = exact and err <= EXACT_TOLERANCE and slope >= GROWTH_BITS_PER_LAYER and ratio > 1
    return Claim.stated(
        "Deep DLoR can express exponentially more linear pieces than wide DLoR per parameter",
        "Appendix D; abstract",
        "expressivity.construction",
        {
            "depth": last["L"],
            "exact": exact,
            "error": err,
            "deep_params": last["deep_params"],
            "wide_params": last["wide_min_params"],
            "slope": slope,
            "from_depth": upper[0]["L"],
        },
        "confirmed" if ok else "not confirmed",
        id="expressivity.construction-pieces",
        evidence={"depths L": len(rows)},
    )


def _init_claim(table: list[dict]) -> Claim:
    by = {(t["budget_of"], t["family"]): t for t in table}
    ratios = []
    for budget in dict.fromkeys(t["budget_of"] for t in table):
        d, w = by.get((budget, "deep")), by.get((budget, "wide"))
        if d and w and w["pieces_per_param"] > 0:
            ratios.append(d["pieces_per_param"] / w["pieces_per_param"])
    if not ratios:
        return Claim.stated(
            "Typical deep DLoR networks at initialisation have more pieces per parameter than wide ones",
            "Appendix D (measured; Hanin & Rolnick 2019)",
            "expressivity.init",
            {"budgets": 0},
            "not judged",
            id="expressivity.init-pieces",
            evidence={"matched budgets": 0},
        )
    med = float(np.median(ratios))
    dense = [
        by[(b, "dense")]["pieces_per_param"] / by[(b, "deep")]["pieces_per_param"]
        for b in dict.fromkeys(t["budget_of"] for t in table)
        if (b, "dense") in by and (b, "deep") in by
    ]
    verdict = "confirmed" if med >= INIT_RATIO and min(ratios) > 1 else "partially confirmed" if med > 1 else "not confirmed"
    return Claim.stated(
        "Typical deep DLoR networks at initialisation have more pieces per parameter than wide ones",
        "Appendix D (measured; Hanin & Rolnick 2019)",
        "expressivity.init",
        {"budgets": len(ratios), "median": med, "low": min(ratios), "high": max(ratios), "dense": float(np.median(dense))},
        verdict,
        id="expressivity.init-pieces",
        evidence={"matched budgets": len(ratios)},
    )


def _trained_claim(per_budget: list[dict], smallest: list[dict], cfg, on_edge: set, reading: str) -> Claim:
    """``reading``: "tuned" (each family at its own rate; cells in ``on_edge`` not judged) or
    "paper-rate" (every family at the paper's rate)."""
    threshold = cfg.error_threshold
    learned = [p for p in per_budget if p["test_mse_median"] < LEARNED_FRACTION * TARGET_VARIANCE]
    best = {(s["frequency"], s["activation"], s["family"]): s["smallest_budget_index"] for s in smallest}
    params = {(s["frequency"], s["activation"], s["family"]): s["smallest_params_reaching"] for s in smallest}
    cells = []  # (frequency, activation, deep's rung, wide's rung), where either DLoR family reaches the threshold
    for freq in cfg.frequencies:
        for act in cfg.activations:
            if (freq, act) in on_edge:
                continue
            d, w = best.get((freq, act, "deep")), best.get((freq, act, "wide"))
            if d is not None or w is not None:
                cells.append((freq, act, d if d is not None else math.inf, w if w is not None else math.inf))
    base = {
        "threshold": threshold,
        "fraction": cfg.error_fraction,
        "learned": len(learned),
        "cells_total": len(per_budget),
        "unjudged": len(on_edge),
    }
    text, cid = TRAINED_READINGS[reading]
    if not cells:
        return Claim.stated(
            text,
            "Appendix D (measured)",
            "expressivity.trained",
            base,
            "not judged",
            id=cid,
            evidence={"(lambda, activation) cells reached": 0},
        )
    deep_wins = sum(d < w for _, _, d, w in cells)
    wide_wins = sum(w < d for _, _, d, w in cells)
    top: dict[str, tuple] = {}
    for freq, act, d, w in cells:  # the highest frequency either family reaches, per activation
        if act not in top or freq > top[act][0]:
            top[act] = (freq, d, w)
    top_deep = all(d < w for _, d, w in top.values())

    def fmt(freq, act, family):
        p = params.get((freq, act, family))
        return "not reached" if p is None else f"{p} parameters"

    tops = "; ".join(
        f"{act}: lambda {f:g}, deep {fmt(f, act, 'deep')} vs wide {fmt(f, act, 'wide')}" for act, (f, _, _) in top.items()
    )
    verdict = "confirmed" if top_deep and wide_wins == 0 else "partially confirmed" if deep_wins > wide_wins else "not confirmed"
    return Claim.stated(
        text,
        "Appendix D (measured)",
        "expressivity.trained",
        base | {"deep_wins": deep_wins, "wide_wins": wide_wins, "cells": len(cells), "tops": tops},
        verdict,
        id=cid,
        evidence={"(lambda, activation) cells reached": len(cells)},
    )


TRAINED = "Trained deep DLoR reaches a given error on higher-frequency targets with fewer parameters than wide"
TRAINED_READINGS = {  # reading -> (claim text, claim id)
    "tuned": (f"{TRAINED} (each family at its own tuned rate)", "expressivity.trained-fewer-parameters"),
    "paper-rate": (f"{TRAINED} (every family at the paper's rate 5e-3)", "expressivity.trained-fewer-parameters-paper-rate"),
}


def claims(construction, init_table, per_budget, smallest, cfg, on_edge=frozenset(), paper_rate=None) -> list[Claim]:
    """The construction, initialisation and trained verdicts; ``paper_rate``: ``(per_budget,
    smallest)`` of every family at the paper's rate, judged as a second reading."""
    out = [
        _construction_claim(construction),
        _init_claim(init_table),
        _trained_claim(per_budget, smallest, cfg, set(on_edge), "tuned"),
    ]
    if paper_rate is not None:
        per, small = paper_rate
        out.append(_trained_claim(per, small, cfg, set(), "paper-rate"))
    return out
