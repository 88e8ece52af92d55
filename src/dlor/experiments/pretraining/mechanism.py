"""What part of DLoR's gain comes from where: alpha frozen at 1, trainable from 1, trainable from 0.

At ``reading_width``, DLoR (under its default reading otherwise) trains with

* ``alpha`` frozen at 1: an identity path and no trainable parameter beyond low-rank's;
* ``alpha`` trainable from 1 (the default);
* ``alpha`` trainable from 0: the same capacity as the default, without the identity start;

each at its own tuned rate with ``seeds`` fresh seeds, beside low-rank (whose blocks already
carry the transformer's residual connections). The table gives each reading's gain over low-rank
and the share of the default's gain it keeps: a frozen alpha that keeps it points at the identity
start (an optimisation effect), a trainable alpha from 0 that keeps it points at the extra
capacity of alpha I.
"""

from __future__ import annotations

import math

from ...lm import GPT
from .study import Tuned, loss_quartiles, model_config

__all__ = ["READINGS", "items", "table"]

READINGS = (  # label, alpha_init, alpha_trainable
    ("alpha frozen at 1", 1.0, False),
    ("alpha trainable from 1", 1.0, True),
    ("alpha trainable from 0", 0.0, True),
)
DEFAULT = "alpha trainable from 1"


def items(cfg, dlor_reading: dict) -> dict[str, Tuned]:
    """One DLoR item per reading of ``READINGS``, at ``cfg.reading_width``."""
    return {
        name: Tuned(cfg.reading_width, "dlor", dlor_reading | {"alpha_init": a0, "alpha_trainable": trainable}, list(cfg.rates))
        for name, a0, trainable in READINGS
    }


def table(cfg, mech: dict[str, Tuned], fresh: dict[str, list[dict]], lowrank: Tuned, lowrank_recs: list[dict]) -> list[dict]:
    """Low-rank, then each reading: trainable parameters, best rate, loss over the fresh seeds,
    the gain over low-rank (low-rank minus this, nats/byte) and the share of the default's gain."""
    low = loss_quartiles(lowrank_recs)["val_nats_median"]
    default_gain = low - loss_quartiles(fresh[DEFAULT])["val_nats_median"]
    rows = []
    for name, t, recs in [("low-rank U V^T", lowrank, lowrank_recs)] + [(n, mech[n], fresh[n]) for n, _, _ in READINGS]:
        model = GPT(model_config(cfg, t.width, t.variant, t.reading))
        quartiles = loss_quartiles(recs)
        gain = low - quartiles["val_nats_median"]
        rows.append(
            {
                "reading": name,
                "alpha_init": t.reading["alpha_init"] if t.variant == "dlor" else "",
                "alpha_trainable": t.reading.get("alpha_trainable", cfg.alpha_trainable) if t.variant == "dlor" else "",
                "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
                "best_rate": t.best_rate,
                "rate_on_edge": t.on_edge,
                "seeds": len(recs),
            }
            | quartiles
            | {
                "gain_over_lowrank": gain,
                "share_of_default_gain": gain / default_gain if default_gain > 0 else math.nan,
            }
        )
    return rows
