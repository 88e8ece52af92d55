"""The verdicts of ``dlor reproduce lm``, each computed from the threshold stated beside it."""

from __future__ import annotations

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


@wording("lm.size-trend")
def _trend_words(
    margin: float, skipped: list, first: list | None = None, last: list | None = None, exponents: list | None = None
) -> str:
    """``first``/``last``: ``[width, params, low-rank minus DLoR]``; ``exponents``: ``[[variant, b], ...]``."""
    if first is None or last is None:
        return "fewer than two sizes could be judged" + _skipped_note(skipped)
    change = float(last[2]) - float(first[2])
    exps = ", ".join(f"{v} {float(b):.3f}" for v, b in (exponents or []))
    return (
        f"low-rank minus DLoR goes from {float(first[2]):+.4f} (width {first[0]}, {first[1]:,} params) "
        f"to {float(last[2]):+.4f} (width {last[0]}, {last[1]:,} params): a change of {change:+.4f} "
        f"nats/byte, so the advantage {size_trend(change, margin)} (threshold +-{margin}); power-law exponents: {exps}"
        + _skipped_note(skipped)
    )


def claims(cfg, table: list[dict], fits: list[dict], baselines: dict) -> list[Claim]:
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
            "exponents": [[f["variant"], f["exponent_b"]] for f in fits],
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
    return out
