"""The verdicts of ``dlor reproduce lm``, each computed from the threshold stated beside it."""

from __future__ import annotations

import math

from .._common import Claim
from .._summary import wording

__all__ = ["claims"]


def _spread(t: dict) -> float:
    return t["val_nats_q75"] - t["val_nats_q25"]


def _skipped_note(skipped: list) -> str:
    return "".join(f"; width {w} not judged: {why}" for w, why in skipped)


@wording("lm.beats")
def _beats_words(margin: float, seeds: int, wins: int, judged: int, diffs: list, skipped: list) -> str:
    """``diffs``: ``[[width, low-rank minus DLoR], ...]``; ``skipped``: ``[[width, why], ...]``."""
    return (
        f"DLoR below low-rank by more than max({margin} nats/byte, either variant's IQR over {seeds} fresh seeds) "
        f"at {wins}/{judged} judged sizes; low-rank minus DLoR: "
        + ", ".join(f"{float(d):+.4f} (width {w})" for w, d in diffs)
        + " nats/byte"
        + _skipped_note(skipped)
    )


@wording("lm.gap-closed")
def _gap_words(judged: int, margin: float, closed: list, threshold: float, skipped: list) -> str:
    """``closed``: ``[[width, fraction of the gap closed], ...]`` at the sizes with a gap to close."""
    if not judged:
        text = "no size could be judged"
    elif not closed:
        text = f"no gap to close: dense beats low-rank by more than {margin} nats/byte at no judged size"
    else:
        text = (
            f"DLoR closes {', '.join(f'{100 * float(c):.0f}% (width {w})' for w, c in closed)} of the low-rank-to-dense "
            f"gap at the sizes where dense beats low-rank by more than {margin} nats/byte; threshold "
            f"{100 * threshold:.0f}%"
        )
    return text + _skipped_note(skipped)


def size_trend(change: float, margin: float) -> str:
    """How a gap moves with size, in words that follow the number: grows, shrinks or holds."""
    change = float(change)
    return "grows" if change > margin else ("shrinks" if change < -margin else "holds")


def crossing_words(crossing: dict | None) -> str:
    """Where the fitted laws of low-rank and DLoR meet, in words (see ``trend.bootstrap``)."""
    if not crossing:
        return ""
    largest, span = float(crossing["largest_params"]), float(crossing["span"])
    within = f"{100 * float(crossing['share_within_span']):.0f}% of resamples meet within {span:g}x the largest size"
    if not math.isfinite(float(crossing["median"])):
        return f"; the fitted laws of low-rank and DLoR do not meet above the largest size ({within})"
    return (
        f"; the fitted laws of low-rank and DLoR meet at N* = {float(crossing['median']):.3g} params "
        f"(95% interval {float(crossing['low']):.3g} to {float(crossing['high']):.3g} over the "
        f"{100 * float(crossing['share_ahead']):.0f}% of resamples that meet; {float(crossing['median']) / largest:.3g}x the "
        f"largest size; {within})"
    )


@wording("lm.size-trend")
def _trend_words(
    margin: float,
    skipped: list,
    first: list | None = None,
    last: list | None = None,
    exponents: list | None = None,
    crossing: dict | None = None,
) -> str:
    """``first``/``last``: ``[width, params, low-rank minus DLoR]``; ``exponents``: ``[[variant,
    b], ...]`` or ``[[variant, b, b_low, b_high], ...]`` (a bootstrap interval); ``crossing``: see
    ``crossing_words``."""
    if first is None or last is None:
        return "fewer than two sizes could be judged" + _skipped_note(skipped)
    change = float(last[2]) - float(first[2])
    exps = ", ".join(
        f"{e[0]} {float(e[1]):.3f}" + (f" [{float(e[2]):.3f}, {float(e[3]):.3f}]" if len(e) > 2 else "") for e in exponents or []
    )
    return (
        f"low-rank minus DLoR goes from {float(first[2]):+.4f} (width {first[0]}, {first[1]:,} params) "
        f"to {float(last[2]):+.4f} (width {last[0]}, {last[1]:,} params): a change of {change:+.4f} "
        f"nats/byte, so the advantage {size_trend(change, margin)} (threshold +-{margin}); power-law exponents: {exps}"
        + crossing_words(crossing)
        + _skipped_note(skipped)
    )


@wording("lm.sltrain")
def _sltrain_words(held: int, judged: int, diffs: list, skipped: list) -> str:
    """``diffs``: ``[[width, DLoR minus sparse+low-rank, the larger IQR], ...]``."""
    return (
        f"DLoR within the seeds' IQR of sparse+low-rank or below it at {held}/{judged} judged sizes; DLoR minus "
        "sparse+low-rank: "
        + ", ".join(f"{float(d):+.4f} (width {w}, IQR {float(q):.4f})" for w, d, q in diffs)
        + " nats/byte"
        + _skipped_note(skipped)
    )


@wording("lm.length")
def _length_words(rows: list, half: float, skipped: list) -> str:
    """``rows``: ``[[width, shortest, gap, longest, gap, IQR at the longest], ...]`` (tokens per
    parameter and low-rank minus DLoR, nats/byte)."""
    parts = []
    for w, short, g_short, long, g_long, iqr in rows:
        kept = float(g_long) / float(g_short) if float(g_short) > 0 else math.nan
        reading = "an optimisation effect at this size" if float(g_long) <= float(iqr) else "persists"
        parts.append(
            f"width {w}: low-rank minus DLoR {float(g_short):+.4f} at {float(short):g} tokens/param, {float(g_long):+.4f} "
            f"at {float(long):g} (IQR {float(iqr):.4f}; {kept:.0%} of the shortest's gap kept; {reading})"
        )
    text = "; ".join(parts) if parts else "no width could be judged"
    return text + f" (threshold: above the IQR and at least {half:.0%} of the shortest's gap)" + _skipped_note(skipped)


LENGTH_KEPT = 0.5  # the gap at the longest length keeps at least half of the shortest length's


def claims(
    cfg, table: list[dict], fits: list[dict], baselines: dict, crossing: dict | None = None, length_gaps: list | None = None
) -> list[Claim]:
    by = {(t["width"], t["variant"]): t for t in table}
    unigram = baselines["unigram"]
    judged: list[tuple[int, str]] = []
    skipped: list[tuple[int, str]] = []
    for w in cfg.widths:
        rows = [by[(w, v)] for v in ("dense", "lowrank", "dlor")]
        why = []
        if any(not t["val_nats_median"] < unigram for t in rows):
            why.append(f"a variant does not beat the unigram model ({unigram:.3f} nats/byte)")
        if any(t["rate_on_edge"] for t in rows):
            why.append("a best rate sits on an edge of its grid")
        (skipped if why else judged).append((w, "; ".join(why)))
    judged_w = [w for w, _ in judged]
    skipped_rows = [[w, why] for w, why in skipped]
    out = []
    # 1. alpha I + U V^T against U V^T at the same width and rank
    diffs = {w: by[(w, "lowrank")]["val_nats_median"] - by[(w, "dlor")]["val_nats_median"] for w in cfg.widths}
    wins = [w for w in judged_w if diffs[w] > max(cfg.margin, _spread(by[(w, "lowrank")]), _spread(by[(w, "dlor")]))]
    n = len(judged_w)
    evidence = {"judged sizes": n, "seeds": cfg.seeds}
    v1 = "not judged" if not n else ("confirmed" if len(wins) == n else ("partially confirmed" if wins else "not confirmed"))
    out.append(
        Claim.stated(
            "alpha I + U V^T beats U V^T at equal rank in pretraining (each at its own tuned rate)",
            "Appendix G",
            "lm.beats",
            {
                "margin": cfg.margin,
                "seeds": cfg.seeds,
                "wins": len(wins),
                "judged": n,
                "diffs": [[w, diffs[w]] for w in cfg.widths],
                "skipped": skipped_rows,
            },
            v1,
            id="lm.dlor-beats-lowrank",
            evidence=evidence,
        )
    )
    # 2. the gap from low-rank to dense at matched parameters
    closed = {}
    for w in judged_w:
        gap = by[(w, "lowrank")]["val_nats_median"] - by[(w, "dense")]["val_nats_median"]
        if gap > cfg.margin:
            closed[w] = diffs[w] / gap
    if not n:
        v2 = "not judged"
    elif not closed:
        v2 = "not confirmed"
    else:
        held = [w for w, c in closed.items() if c >= cfg.gap_closed]
        v2 = "confirmed" if len(held) == len(closed) else ("partially confirmed" if held else "not confirmed")
    out.append(
        Claim.stated(
            f"DLoR closes at least {100 * cfg.gap_closed:.0f}% of the gap from low-rank to dense at matched "
            "parameters (each at its own tuned rate)",
            "Appendix G",
            "lm.gap-closed",
            {
                "judged": n,
                "margin": cfg.margin,
                "closed": [[w, c] for w, c in closed.items()],
                "threshold": cfg.gap_closed,
                "skipped": skipped_rows,
            },
            v2,
            id="lm.closes-gap-to-dense",
            evidence=evidence,
        )
    )
    # 3. how alpha I's advantage moves with model size
    values3: dict = {"margin": cfg.margin, "skipped": skipped_rows}
    if len(judged_w) >= 2:
        first, last = judged_w[0], judged_w[-1]
        trend = size_trend(diffs[last] - diffs[first], cfg.margin)
        values3 |= {
            "first": [first, by[(first, "dlor")]["params"], diffs[first]],
            "last": [last, by[(last, "dlor")]["params"], diffs[last]],
            "exponents": [[f["variant"], f["exponent_b"]] + ([f["b_low"], f["b_high"]] if "b_low" in f else []) for f in fits],
            "crossing": crossing or None,
        }
        v3 = "confirmed" if trend != "shrinks" and diffs[last] > cfg.margin else "not confirmed"
    else:
        v3 = "not judged"
    out.append(
        Claim.stated(
            "alpha I's advantage over U V^T holds or grows with model size (a blueprint for pretraining)",
            "Appendix G",
            "lm.size-trend",
            values3,
            v3,
            id="lm.advantage-with-size",
            evidence=evidence,
        )
    )
    if any(t["variant"] == "sparse+lowrank" for t in table):
        out.append(_sltrain_claim(cfg, by, unigram))
    if length_gaps:
        out.append(_length_claim(cfg, length_gaps))
    return out


def _sltrain_claim(cfg, by: dict, unigram: float) -> Claim:
    """DLoR against SLTrain's sparse+low-rank at equal parameters, size by size."""
    judged, skipped = [], []
    for w in cfg.widths:
        pair = [by[(w, "dlor")], by[(w, "sparse+lowrank")]]
        if any(t["rate_on_edge"] for t in pair):
            skipped.append([w, "a best rate sits on an edge of its grid"])
        elif any(not t["val_nats_median"] < unigram for t in pair):
            skipped.append([w, f"a variant does not beat the unigram model ({unigram:.3f} nats/byte)"])
        else:
            judged.append(w)
    diffs = [
        [
            w,
            by[(w, "dlor")]["val_nats_median"] - by[(w, "sparse+lowrank")]["val_nats_median"],
            max(_spread(by[(w, v)]) for v in ("dlor", "sparse+lowrank")),
        ]
        for w in cfg.widths
    ]
    held = [w for w, d, q in diffs if w in judged and d <= q]
    n = len(judged)
    verdict = "not judged" if not n else ("confirmed" if len(held) == n else ("partially confirmed" if held else "not confirmed"))
    return Claim.stated(
        "alpha I is enough: DLoR matches or beats sparse+low-rank (SLTrain) at equal parameters (each at its own tuned rate)",
        "Appendix G; SLTrain (Han et al. 2024)",
        "lm.sltrain",
        {"held": len(held), "judged": n, "diffs": diffs, "skipped": skipped},
        verdict,
        id="lm.dlor-matches-sltrain",
        evidence={"judged sizes": n, "seeds": cfg.seeds},
    )


def _length_claim(cfg, gaps: list[dict]) -> Claim:
    """Whether low-rank minus DLoR survives the longest training, width by width."""
    rows: list[list] = []
    skipped: list[list] = []
    above_iqr, kept_half = [], []
    for w in cfg.length_widths:
        sel = sorted((g for g in gaps if g["width"] == w), key=lambda g: g["tokens_per_param"])
        short, long = sel[0], sel[-1]
        if short["rate_on_edge"] or long["rate_on_edge"]:
            skipped.append([w, "a best rate at the shortest or longest length sits on an edge of its grid"])
            continue
        gap_short, gap_long = short["lowrank_minus_dlor"], long["lowrank_minus_dlor"]
        rows.append([w, short["tokens_per_param"], gap_short, long["tokens_per_param"], gap_long, long["iqr"]])
        if gap_long > long["iqr"]:
            above_iqr.append(w)
            if gap_short > 0 and gap_long >= LENGTH_KEPT * gap_short:
                kept_half.append(w)
    n = len(rows)
    if not n:
        verdict = "not judged"
    elif len(kept_half) == n:
        verdict = "confirmed"
    else:
        verdict = "partially confirmed" if above_iqr else "not confirmed"
    return Claim.stated(
        "alpha I's advantage over U V^T persists with training length (capacity, as Appendix G argues)",
        "Appendix G",
        "lm.length",
        {"rows": rows, "half": LENGTH_KEPT, "skipped": skipped},
        verdict,
        id="lm.advantage-with-length",
        evidence={"widths": n, "lengths": len({g["tokens_per_param"] for g in gaps}), "seeds": cfg.seeds},
    )
