"""The training-length trend of ``dlor reproduce lm``: does alpha I's advantage survive longer training?

At each of ``length_widths``, every variant (dense, low-rank, DLoR, each under its default
reading) trains at each token budget of ``lengths`` (tokens per parameter of the size's DLoR
model). The best rate moves with the length, so each (variant, length) is tuned again on the grid
(extended past an edge like every other item), and ``seeds`` fresh seeds then train at its best
rate. The study's own length (``tokens_per_param``) reuses the main study's runs.

The gap ``low-rank minus DLoR`` (and ``dense minus DLoR``) is reported at every length with a
least-squares line against ``log10(tokens per parameter)``. Appendix G argues for capacity (pure
low-rank cannot learn the orthogonal tail); an optimisation reading (an identity start trains
faster, and a long enough run of low-rank catches up) predicts a gap that closes with length.
"""

from __future__ import annotations

import numpy as np

from .study import Tuned, loss_quartiles, steps_for

__all__ = ["items", "table", "gaps", "fits", "LENGTH_VARIANTS"]

LENGTH_VARIANTS = ("dense", "lowrank", "dlor")


def items(cfg, chosen: dict[str, dict], tuned: dict) -> dict[tuple, Tuned]:
    """``(width, tokens per parameter, variant) -> Tuned``: the main study's items at its own
    length, new ones (to be tuned) at the others."""
    out = {}
    for w in cfg.length_widths:
        for per in cfg.lengths:
            for v in LENGTH_VARIANTS:
                if per == cfg.tokens_per_param:
                    out[(w, per, v)] = tuned[(w, v)]
                else:
                    out[(w, per, v)] = Tuned(w, v, chosen.get(v, cfg.start_reading()), list(cfg.rates), tokens_per_param=per)
    return out


def table(cfg, length_items: dict[tuple, Tuned], fresh: dict[tuple, list[dict]]) -> list[dict]:
    """One row per (width, length, variant): the steps, the best rate and the fresh seeds' loss."""
    rows = []
    for (w, per, v), t in length_items.items():
        rows.append(
            {
                "width": w,
                "tokens_per_param": per,
                "steps": steps_for(cfg, w, per),
                "variant": v,
                "best_rate": t.best_rate,
                "rate_on_edge": t.on_edge,
                "seeds": len(fresh[(w, per, v)]),
            }
            | loss_quartiles(fresh[(w, per, v)])
        )
    return rows


def gaps(rows: list[dict]) -> list[dict]:
    """Per (width, length): low-rank minus DLoR and dense minus DLoR (medians), the larger IQR of
    low-rank and DLoR, and whether a best rate of either sits on an edge of its grid."""
    by = {(r["width"], r["tokens_per_param"], r["variant"]): r for r in rows}
    out = []
    for w, per in dict.fromkeys((r["width"], r["tokens_per_param"]) for r in rows):
        low, dlor, dense = (by[(w, per, v)] for v in ("lowrank", "dlor", "dense"))
        spread = max(t["val_nats_q75"] - t["val_nats_q25"] for t in (low, dlor))
        out.append(
            {
                "width": w,
                "tokens_per_param": per,
                "steps": low["steps"],
                "lowrank_minus_dlor": low["val_nats_median"] - dlor["val_nats_median"],
                "dense_minus_dlor": dense["val_nats_median"] - dlor["val_nats_median"],
                "iqr": spread,
                "rate_on_edge": bool(low["rate_on_edge"] or dlor["rate_on_edge"]),
            }
        )
    return out


def fits(gap_rows: list[dict]) -> list[dict]:
    """Per width and gap: ``gap = a + b log10(tokens per parameter)`` by least squares over the
    lengths whose rates sit inside their grids; ``b`` is the change per tenfold more training."""
    out = []
    for w in dict.fromkeys(g["width"] for g in gap_rows):
        sel = [g for g in gap_rows if g["width"] == w and not g["rate_on_edge"]]
        for key in ("lowrank_minus_dlor", "dense_minus_dlor"):
            if len(sel) < 2:
                continue
            x = np.log10([g["tokens_per_param"] for g in sel])
            b, a = np.polyfit(x, [g[key] for g in sel], 1)
            out.append({"width": w, "gap": key, "a": float(a), "per_decade": float(b), "lengths": len(sel)})
    return out
