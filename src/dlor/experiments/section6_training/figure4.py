"""The Figure 4 claims of Section 6.2 as functions of per-model result rows, with the
thresholds their verdicts use (shared by the training sweep and the protocol study)."""

from __future__ import annotations

import math

import numpy as np

from .._common import Claim
from .._summary import wording

MOST_K = (0.75, 0.5)  # "for most values of k": deep median below wide at >= 75% of k (partly: >= 50%)
NEAR_1E4 = 3e-4  # "errors near 1e-4": test MSE at most 3e-4 ...
OFTEN = (0.25, 0.1)  # ... "often": in >= 25% of the deep runs (partly: >= 10%)


def verdict(frac: float, full: float, part: float) -> str:
    return "confirmed" if frac >= full else ("partially confirmed" if frac >= part else "not confirmed")


def median(values) -> float:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.median(v)) if v else math.nan


def success_rate(rows, arch: str) -> float:
    sel = [r["first_epoch_below_threshold"] > 0 for r in rows if r["arch"] == arch and "matched_k" not in r]
    return float(np.mean(sel)) if sel else math.nan


def median_epochs(rows, arch: str) -> float:
    return median(
        [
            r["first_epoch_below_threshold"]
            for r in rows
            if r["arch"] == arch and "matched_k" not in r and r["first_epoch_below_threshold"] > 0
        ]
    )


def deep_wins(rows, key: str) -> float:
    """Fraction of the k at which the deep median of ``key`` is below the wide median."""
    ks = sorted({r["k"] for r in rows if r["arch"] == "deep"})
    wins = [
        median(r[key] for r in rows if r["arch"] == "deep" and r["k"] == k)
        < median(r[key] for r in rows if r["arch"] == "wide" and r["k"] == k)
        for k in ks
    ]
    return float(np.mean(wins)) if wins else math.nan


def near_rate(rows, key: str) -> float:
    deep = [r.get(key, math.inf) for r in rows if r["arch"] == "deep"]
    return sum(1 for v in deep if v <= NEAR_1E4) / max(len(deep), 1)


@wording("figure4.deep-wins")
def _deep_wins_words(shares: list, confirmed: float, partly: float, not_judged: str = "") -> str:
    """``shares``: ``[[fraction of k, epochs], ...]``, the first one's budget named in full;
    ``not_judged``: the cells left out (see ``left_out``)."""
    parts = [
        f"at {float(s):.0%} of k after {e} epochs" if i == 0 else f"at {float(s):.0%} after {e}"
        for i, (s, e) in enumerate(shares)
    ]
    words = "deep median below wide median " + " and ".join(parts) + f" (confirmed >= {confirmed:.0%}, partly >= {partly:.0%})"
    return words + left_out(not_judged)


@wording("figure4.near-1e-4")
def _near_words(near: float, level: float, epochs: int, confirmed: float, partly: float, not_judged: str = "") -> str:
    return (
        f"{float(near):.0%} of deep runs have test MSE <= {level:g} after {epochs} epochs "
        f"(confirmed >= {confirmed:.0%}, partly >= {partly:.0%})" + left_out(not_judged)
    )


@wording("figure4.faster-more-often")
def _faster_words(deep_rate: float, wide_rate: float, deep_epochs: float, wide_epochs: float, not_judged: str = "") -> str:
    return (
        f"success rate deep {float(deep_rate):.0%} vs wide {float(wide_rate):.0%}; "
        f"median epochs deep {float(deep_epochs):.0f} vs wide {float(wide_epochs):.0f}" + left_out(not_judged)
    )


@wording("figure4.success-rates")
def _success_words(dense_rate: float, deep_rate: float, not_judged: str = "") -> str:
    return f"success rate dense {float(dense_rate):.0%} vs deep {float(deep_rate):.0%}" + left_out(not_judged)


def left_out(cells: str) -> str:
    """The words for cells left out of a tuned verdict (their best rate on an edge of its grid)."""
    return f"; not judged (best rate on an edge of its grid): {cells}" if cells else ""


def faster_and_more_often(rows) -> tuple[dict, str]:
    """The values of the "faster and more often" claim and its verdict."""
    rd, rw, ed, ew = (
        success_rate(rows, "deep"),
        success_rate(rows, "wide"),
        median_epochs(rows, "deep"),
        median_epochs(rows, "wide"),
    )
    values = {"deep_rate": rd, "wide_rate": rw, "deep_epochs": ed, "wide_epochs": ew}
    if rd > rw and ed < ew:
        return values, "confirmed"
    return values, "partially confirmed" if rd > rw or ed < ew else "not confirmed"


# the four Figure 4 claims' ids after the experiment's name, in short_budget_claims' order
FIGURE4_IDS = ("deep-beats-wide", "deep-near-1e-4", "deep-faster-more-often", "dense-below-deep")


def evidence(rows, *archs: str) -> dict[str, int]:
    """What a Figure 4 verdict rests on: the k values of the DLoR rows among ``archs`` and the seeds of
    all of them (matched runs aside)."""
    sel = [r for r in rows if r["arch"] in archs and "matched_k" not in r]
    ks = {r["k"] for r in sel if r["arch"] in ("deep", "wide")}
    counts = {"k values": len(ks)} if ks else {}
    return counts | {"seeds": len({r["seed"] for r in sel})}


def short_budget_claims(rows, key: str, epochs: int, experiment: str) -> list[Claim]:
    """The four Figure 4 claims judged from one budget's test MSE ``key`` (the protocol study),
    their ids prefixed by ``experiment``."""
    ids = [f"{experiment}.{s}" for s in FIGURE4_IDS]
    both = evidence(rows, "deep", "wide")
    win, near = deep_wins(rows, key), near_rate(rows, key)
    values3, verdict3 = faster_and_more_often(rows)
    dense, deep = success_rate(rows, "dense"), success_rate(rows, "deep")
    return [
        Claim.stated(
            "Deep DLoR reaches lower test error than wide DLoR for most k",
            "Section 6.2, Figure 4(a)",
            "figure4.deep-wins",
            {"shares": [[win, epochs]], "confirmed": MOST_K[0], "partly": MOST_K[1]},
            verdict(win, *MOST_K),
            id=ids[0],
            evidence=both,
        ),
        Claim.stated(
            "Deep often gets near 1e-4 test error after 5,000 epochs",
            "Section 6.2, Figure 4(a)",
            "figure4.near-1e-4",
            {"near": near, "level": NEAR_1E4, "epochs": epochs, "confirmed": OFTEN[0], "partly": OFTEN[1]},
            verdict(near, *OFTEN),
            id=ids[1],
            evidence=evidence(rows, "deep"),
        ),
        Claim.stated(
            "Deep reaches the 1e-3 training threshold faster and more often than wide",
            "Section 6.2, Figures 4(c), 4(d)",
            "figure4.faster-more-often",
            values3,
            verdict3,
            id=ids[2],
            evidence=both,
        ),
        Claim.stated(
            "The dense two-hidden-layer baseline succeeds less often than deep DLoR",
            "Section 6.2, Figure 4(d)",
            "figure4.success-rates",
            {"dense_rate": dense, "deep_rate": deep},
            "confirmed" if dense < deep else "not confirmed",
            id=ids[3],
            evidence=evidence(rows, "deep", "dense"),
        ),
    ]
