"""The pieces of ``dlor reproduce lm``'s study that every stage shares: a variant's model and
training settings at a width and token budget, the readings, and the tuning of a learning rate
per (variant, width, reading, length) on a log grid extended past an edge."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ...lm import GPT, GPTConfig, TrainSettings
from .runs import Runner
from .shapes import matched_dense, matched_sltrain

if TYPE_CHECKING:
    from .experiment import LMConfig

__all__ = [
    "READING_CHOICES",
    "DLOR_ONLY",
    "Tuned",
    "model_config",
    "steps_for",
    "settings_for",
    "readings",
    "label",
    "tuning_loss",
    "loss_quartiles",
    "tune_items",
    "verdict_runs",
]

# the choices the reading study crosses (first: the starting reading); DLOR_ONLY ones leave lowrank unchanged
READING_CHOICES: dict[str, tuple] = {
    "alpha_init": (1.0, 0.0),
    "factor_weight_decay": (0.1, 0.0),
    "factor_init": ("random", "zero_u"),
    "rect_alpha": ("truncated identity", "none"),
}
DLOR_ONLY = ("alpha_init", "rect_alpha")


def model_config(cfg: LMConfig, width: int, variant: str, reading: dict) -> GPTConfig:
    """The GPT of ``variant`` at ``width`` under ``reading`` (dense: matched in parameters to DLoR)."""
    rect = cfg.alpha_init_rect if reading["rect_alpha"] != "none" else None
    if rect is not None and reading["alpha_init"] != cfg.alpha_init:
        rect = reading["alpha_init"]  # the reading study moves alpha_0 in every projection that has one
    base = GPTConfig(
        variant="dlor",
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=width,
        block_size=cfg.block_size,
        rank=cfg.rank(width),
        alpha_init=float(reading["alpha_init"]),
        alpha_init_rect=rect,
        alpha_trainable=bool(reading.get("alpha_trainable", cfg.alpha_trainable)),
        factor_init=reading["factor_init"],
    )
    if variant == "dlor":
        return base
    if variant == "lowrank":
        return replace(base, variant="lowrank", alpha_init=1.0, alpha_init_rect=1.0, alpha_trainable=cfg.alpha_trainable)
    start = model_config(cfg, width, "dlor", cfg.start_reading())
    if variant == "sparse+lowrank":  # SLTrain at DLoR's parameter count, its S applied densely (faster on a CPU)
        like = replace(base, alpha_trainable=cfg.alpha_trainable, sparse_product="dense")
        return matched_sltrain(GPT(start).num_params(), like, cfg.sltrain_density)
    return matched_dense(GPT(start).num_params(), start)


def steps_for(cfg: LMConfig, width: int, tokens_per_param: float | None = None) -> int:
    """Training steps at ``width``: ``tokens_per_param`` (default ``cfg``'s) tokens per parameter
    of the size's DLoR model, and at least ``cfg.min_steps``."""
    per = cfg.tokens_per_param if tokens_per_param is None else tokens_per_param
    params = GPT(model_config(cfg, width, "dlor", cfg.start_reading())).num_params()
    return max(cfg.min_steps, round(per * params / (cfg.batch_size * cfg.block_size)))


def settings_for(
    cfg: LMConfig, width: int, lr: float, seed: int, reading: dict, tokens_per_param: float | None = None
) -> TrainSettings:
    steps = steps_for(cfg, width, tokens_per_param)
    return TrainSettings(
        steps=steps,
        batch_size=cfg.batch_size,
        lr=float(lr),
        warmup=max(1, steps // 20),
        weight_decay=cfg.weight_decay,
        factor_weight_decay=float(reading["factor_weight_decay"]),
        lr_mult_u=cfg.lr_mult_u,
        lr_mult_v=cfg.lr_mult_v,
        lr_mult_alpha=cfg.lr_mult_alpha,
        eval_every=max(1, steps // 8),
        eval_batches=cfg.eval_batches,
        checkpoint_every=max(1, steps // 4),
        seed=seed,
    )


def readings(cfg: LMConfig, variant: str) -> list[dict]:
    """Every reading of ``variant`` that the study trains (dense: its one reading)."""
    factors = [f for f in cfg.reading_factors if variant == "dlor" or (variant == "lowrank" and f not in DLOR_ONLY)]
    out = []
    for choice in itertools.product(*(READING_CHOICES[f] for f in factors)):
        out.append(cfg.start_reading() | dict(zip(factors, choice, strict=True)))
    return out


def label(reading: dict, variant: str, cfg: LMConfig) -> str:
    factors = [f for f in cfg.reading_factors if variant == "dlor" or f not in DLOR_ONLY]
    return "; ".join(f"{f}={reading[f]}" for f in factors) if variant != "dense" else "-"


@dataclass
class Tuned:
    """One tuned item: a variant at a width under a reading, its grid and the tuning losses."""

    width: int
    variant: str
    reading: dict
    rates: list[float]
    losses: list[float | None] = field(default_factory=list)
    tokens_per_param: float | None = None  # None: the study's own (``LMConfig.tokens_per_param``)

    def run(self, cfg: LMConfig, lr: float, seed: int) -> tuple[GPTConfig, TrainSettings]:
        """The run of this item at ``lr`` with ``seed``."""
        settings = settings_for(cfg, self.width, lr, seed, self.reading, self.tokens_per_param)
        return model_config(cfg, self.width, self.variant, self.reading), settings

    @property
    def best(self) -> int:
        vals = [math.inf if v is None else v for v in self.losses]
        return int(np.argmin(vals))

    @property
    def best_rate(self) -> float:
        return self.rates[self.best]

    @property
    def on_edge(self) -> bool:
        return self.best in (0, len(self.rates) - 1)


def tuning_loss(t: Tuned) -> float:
    """A tuned item's loss at its best rate (a diverged best counts as infinitely bad)."""
    loss = t.losses[t.best]
    return math.inf if loss is None else loss


def loss_quartiles(recs: list[dict]) -> dict[str, float]:
    """The validation loss of runs (a diverged run counts as infinitely bad): ``val_nats_median``,
    ``val_nats_q25`` and ``val_nats_q75``."""
    loss = np.array([math.inf if r["val_loss"] is None else r["val_loss"] for r in recs])
    q25, med, q75 = np.percentile(loss, [25, 50, 75])
    return {"val_nats_median": float(med), "val_nats_q25": float(q25), "val_nats_q75": float(q75)}


def tune_items(cfg: LMConfig, items: list[Tuned], runner: Runner, desc: str) -> None:
    """Train every item's grid with the tuning seed, extending a grid past a best rate on its edge."""
    step = cfg.rates[1] / cfg.rates[0]
    for round_ in range(cfg.max_extensions + 1):
        runs = [t.run(cfg, r, cfg.tuning_seed) for t in items for r in t.rates]
        records = runner.train(runs, f"{desc} (round {round_ + 1})")
        i = 0
        for t in items:
            t.losses = [rec["val_loss"] for rec in records[i : i + len(t.rates)]]
            i += len(t.rates)
        grow = [t for t in items if t.on_edge and any(v is not None for v in t.losses)]
        if not grow or round_ == cfg.max_extensions:
            return
        for t in grow:
            if t.best == 0:
                t.rates.insert(0, float(f"{t.rates[0] / step:.3g}"))
            else:
                t.rates.append(float(f"{t.rates[-1] * step:.3g}"))


def verdict_runs(cfg: LMConfig, t: Tuned, seeds: int) -> list[tuple[GPTConfig, TrainSettings]]:
    return [t.run(cfg, t.best_rate, s) for s in range(seeds)]
