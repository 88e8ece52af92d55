r"""Appendix G tested on text: pretraining byte-level GPTs with low-rank, DLoR and dense projections,
every variant at its own tuned learning rate.

Appendix G argues that a pure low-rank layer ``U V^T`` cannot learn the orthogonal tail of a
weight from scratch and that ``alpha I + U V^T`` restores universal approximation, "a rigorous
architectural blueprint for parameter-efficient pretraining". The paper runs no experiment on it.
Here small GPTs ([`dlor.lm`][dlor.lm]) are pretrained on Shakespeare's works (or any folder of text,
``corpus``) at several model sizes. At each size (width ``d``, rank ``round(rank_fraction d)``):

* ``dlor`` and ``lowrank`` have the same width and rank (they differ by one ``alpha`` per
  projection), which isolates ``alpha I``;
* ``dense`` has a smaller width and MLP width chosen so that its whole model holds as many
  parameters as DLoR's, within 2%.

The study has four parts, in the order they run:

1. **A reading study** at ``reading_width``: every combination of the ``reading_factors``
   (``alpha_init`` in {1, 0}; ``factor_weight_decay`` in {0.1, 0}; ``factor_init`` in {random,
   one zero}; ``rect_alpha``, alpha I on the rectangular MLP projections, in {truncated
   identity, none}) for ``dlor``, and the combinations of the two shared factors for
   ``lowrank``, each at its own tuned rate.
2. **The default reading** of each variant is the one with the lowest validation loss *of that
   variant alone* on its tuning runs: every variant is tuned on its own loss, like its
   learning rate, and no claim under test (a difference between variants) enters the choice.
3. **A learning-rate sweep** per variant and size on ``rates`` (log-spaced), trained with the
   tuning seed. A best rate on an edge of the grid extends the grid by one more rate beyond it
   (at most ``max_extensions`` times); a comparison whose best rate still sits on an edge is not
   judged.
4. **The verdict runs**: ``seeds`` fresh seeds of each variant at each size at its best rate.
   The claims are computed from their medians; the size trend fits a power law per variant.

The token budget grows with the model: ``tokens_per_param`` training tokens per parameter of the
size's DLoR model (Hoffmann et al. 2022, "Chinchilla", train compute-optimal models on about 20
tokens per parameter; the paper budget spends half of that, 10 per parameter), and at least ``min_steps`` steps.
``sparse+lowrank`` is not in this study: its CSR product trains 2.5-4x slower on the CPU and it
enters none of the claims under test.

Every run is resumable: finished runs are kept in ``lm/runs/*/result.json`` and an interrupted
one continues from its checkpoint.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..._errors import DLoRError
from ...lm import GPT, GPTConfig, TrainSettings
from ...lm.data import VOCAB_SIZE
from .._common import Summary, write_csv, write_json
from .._registry import RunContext
from . import plots
from .runs import finished, text_files, train_all
from .shapes import PARAM_TOLERANCE, matched_dense, unigram_loss

__all__ = ["LMConfig", "CONFIG", "READING_CHOICES", "run", "model_config", "settings_for", "files_intact"]

VARIANTS = ("dense", "lowrank", "dlor")
# the choices the reading study crosses (first: the starting reading); DLOR_ONLY ones leave lowrank unchanged
READING_CHOICES: dict[str, tuple] = {
    "alpha_init": (1.0, 0.0),
    "factor_weight_decay": (0.1, 0.0),
    "factor_init": ("random", "zero_u"),
    "rect_alpha": ("truncated identity", "none"),
}
DLOR_ONLY = ("alpha_init", "rect_alpha")
SHARED_RATE = 1e-3  # the one rate every variant shared in the earlier reading (docs/runs/lm-shared-rate)
PAPER_RATES = tuple(float(f"{3e-4 * (1e-2 / 3e-4) ** (k / 4):.3g}") for k in range(5))  # 3e-4 ... 1e-2


def _positive(name: str, value, integer: bool = False) -> None:
    ok = not isinstance(value, bool) and isinstance(value, int if integer else (int, float))
    if not ok or not (math.isfinite(value) and value > 0):
        raise DLoRError(f"{name} must be a positive {'integer' if integer else 'number'}, got {value!r}")


@dataclass(frozen=True)
class LMConfig:
    """The sizes, the grids and the readings of ``dlor reproduce lm``.

    Shapes: ``widths`` (one model size each), ``rank_fraction`` (rank = ``round(fraction * width)``),
    ``n_layer``, ``n_head``, ``block_size``. Token budget: ``tokens_per_param`` (see the module
    docstring) and ``min_steps``; ``batch_size`` windows per step.

    The starting reading (what the reading study varies; see [`GPTConfig`][dlor.lm.GPTConfig] and
    [`TrainSettings`][dlor.lm.TrainSettings] for what the literature does): ``alpha_init`` (square
    projections) and ``alpha_init_rect`` (rectangular ones; ``None``: no alpha I there),
    ``alpha_trainable``, ``factor_init``, ``factor_weight_decay``, ``weight_decay`` (dense
    matrices), the rate multipliers ``lr_mult_u``, ``lr_mult_v``, ``lr_mult_alpha``.
    """

    budget: str = "paper"
    widths: tuple[int, ...] = (32, 64, 128)
    rank_fraction: float = 0.25
    n_layer: int = 2
    n_head: int = 4
    block_size: int = 64
    batch_size: int = 16
    tokens_per_param: float = 10.0
    min_steps: int = 200
    eval_batches: int = 16
    rates: tuple[float, ...] = PAPER_RATES
    max_extensions: int = 3
    tuning_seed: int = 1000
    seeds: int = 3
    reading_width: int = 64
    reading_factors: tuple[str, ...] = tuple(READING_CHOICES)
    reading_seeds: int = 1
    alpha_init: float = 1.0
    alpha_init_rect: float | None = 1.0
    alpha_trainable: bool = True
    factor_init: str = "random"
    factor_weight_decay: float = 0.1
    weight_decay: float = 0.1
    lr_mult_u: float = 1.0
    lr_mult_v: float = 1.0
    lr_mult_alpha: float = 1.0
    margin: float = 0.01  # nats per byte: a difference smaller than this (or the seeds' spread) is a tie
    gap_closed: float = 0.5  # the gap-closing claim holds where DLoR closes at least this fraction
    corpus: str | None = None  # a folder of text files; None: the Shakespeare corpus that ships with dlor
    workers: int = 2
    shrunk: str = ""

    def __post_init__(self) -> None:
        rates = self.rates
        if not rates:
            raise DLoRError("the learning-rate grid is empty; give at least 3 rates, e.g. 3e-4,1e-3,3e-3")
        for r in rates:
            if isinstance(r, bool) or not isinstance(r, (int, float)) or not (math.isfinite(r) and r > 0):
                raise DLoRError(f"every learning rate must be a positive finite number, got {r!r}")
        if any(b <= a for a, b in zip(rates, rates[1:], strict=False)):
            raise DLoRError(f"the learning-rate grid must be sorted in increasing order without repeats, got {list(rates)}")
        if len(rates) < 3:
            raise DLoRError(f"the learning-rate grid needs at least 3 rates (a best rate has two neighbours), got {list(rates)}")
        for name in (
            "n_layer",
            "n_head",
            "block_size",
            "batch_size",
            "min_steps",
            "eval_batches",
            "seeds",
            "reading_seeds",
            "workers",
        ):
            _positive(name, getattr(self, name), integer=True)
        for name in ("rank_fraction", "tokens_per_param", "lr_mult_u", "lr_mult_v", "lr_mult_alpha"):
            _positive(name, getattr(self, name))
        if not 0 < self.rank_fraction <= 1:
            raise DLoRError(f"rank_fraction must lie in (0, 1], got {self.rank_fraction}")
        if not self.widths or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 or w % self.n_head for w in self.widths):
            raise DLoRError(f"widths must be positive multiples of n_head = {self.n_head}, got {self.widths!r}")
        if list(self.widths) != sorted(set(self.widths)):
            raise DLoRError(f"widths must be increasing, got {self.widths!r}")
        if self.reading_width not in self.widths:
            raise DLoRError(f"reading_width {self.reading_width} is not one of the widths {self.widths}")
        unknown = [f for f in self.reading_factors if f not in READING_CHOICES]
        if unknown:
            raise DLoRError(f"unknown reading factor {unknown[0]!r}; choose from {list(READING_CHOICES)}")
        if isinstance(self.max_extensions, bool) or not isinstance(self.max_extensions, int) or self.max_extensions < 0:
            raise DLoRError(f"max_extensions must be an integer >= 0, got {self.max_extensions!r}")
        if self.corpus is not None:
            text_files(self.corpus)  # DLoRError: missing, empty, or no text
        for w in self.widths:  # the shapes and the settings validate themselves (GPTConfig, TrainSettings)
            model_config(self, w, "dlor", self.start_reading())
        settings_for(self, self.widths[0], self.rates[0], 0, self.start_reading())

    @classmethod
    def paper(cls) -> LMConfig:
        return cls()

    @classmethod
    def quick(cls) -> LMConfig:
        return cls(
            budget="quick",
            widths=(16, 32, 64),
            reading_width=32,
            tokens_per_param=2.0,
            min_steps=80,
            eval_batches=8,
            rates=(1e-3, 3e-3, 1e-2),
            seeds=2,
            reading_factors=("alpha_init", "rect_alpha"),
            shrunk="widths 16, 32 and 64; 2 tokens per parameter (at least 80 steps); 3 rates (1e-3, 3e-3, 1e-2); "
            "2 fresh seeds; the reading study crosses alpha_init and rect_alpha only; 8 validation batches",
        )

    @classmethod
    def tiny(cls) -> LMConfig:
        return cls(
            budget="tiny",
            widths=(8, 16, 24),
            n_layer=1,
            n_head=2,
            block_size=32,
            batch_size=8,
            reading_width=16,
            tokens_per_param=0.5,
            min_steps=30,
            eval_batches=2,
            rates=(1e-3, 3e-3, 1e-2),
            seeds=1,
            max_extensions=1,
            reading_factors=("alpha_init", "factor_init"),
            workers=1,
            shrunk="a smoke test: 1 layer, widths 8-24, 30+ steps, 3 rates, 1 seed, 2 reading factors",
        )

    def start_reading(self) -> dict:
        return {
            "alpha_init": self.alpha_init,
            "factor_weight_decay": self.factor_weight_decay,
            "factor_init": self.factor_init,
            "rect_alpha": "none" if self.alpha_init_rect is None else "truncated identity",
        }

    def rank(self, width: int) -> int:
        return max(1, round(self.rank_fraction * width))


CONFIG = LMConfig


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
        alpha_trainable=cfg.alpha_trainable,
        factor_init=reading["factor_init"],
    )
    if variant == "dlor":
        return base
    if variant == "lowrank":
        return replace(base, variant="lowrank", alpha_init=1.0, alpha_init_rect=1.0)
    start = model_config(cfg, width, "dlor", cfg.start_reading())
    return matched_dense(GPT(start).num_params(), start)


def steps_for(cfg: LMConfig, width: int) -> int:
    params = GPT(model_config(cfg, width, "dlor", cfg.start_reading())).num_params()
    return max(cfg.min_steps, round(cfg.tokens_per_param * params / (cfg.batch_size * cfg.block_size)))


def settings_for(cfg: LMConfig, width: int, lr: float, seed: int, reading: dict) -> TrainSettings:
    steps = steps_for(cfg, width)
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


def _tuning_loss(t: Tuned) -> float:
    """A tuned item's loss at its best rate (a diverged best counts as infinitely bad)."""
    loss = t.losses[t.best]
    return math.inf if loss is None else loss


def _tune(cfg: LMConfig, items: list[Tuned], folder: Path, ctx: RunContext, corpus, desc: str) -> None:
    """Train every item's grid with the tuning seed, extending a grid past a best rate on its edge."""
    step = cfg.rates[1] / cfg.rates[0]
    for round_ in range(cfg.max_extensions + 1):
        runs = [
            (model_config(cfg, t.width, t.variant, t.reading), settings_for(cfg, t.width, r, cfg.tuning_seed, t.reading))
            for t in items
            for r in t.rates
        ]
        records = train_all(
            folder,
            runs,
            corpus_dir=cfg.corpus,
            device=ctx.device,
            workers=cfg.workers,
            progress=ctx.progress,
            desc=f"{desc} (round {round_ + 1})",
            corpus=corpus,
        )
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


def _verdict_runs(cfg: LMConfig, t: Tuned, seeds: int) -> list[tuple[GPTConfig, TrainSettings]]:
    return [
        (model_config(cfg, t.width, t.variant, t.reading), settings_for(cfg, t.width, t.best_rate, s, t.reading))
        for s in range(seeds)
    ]


def run(cfg: LMConfig, out: Path, ctx: RunContext) -> Summary:
    """Run the study (see the module docstring): write its CSVs, figures and claims under ``out/lm``."""
    from ..._device import check_device
    from ...lm.data import load_corpus

    check_device(ctx.device)  # DLoRError before any work: cuda on a machine without it
    t0 = time.perf_counter()
    folder = Path(out) / "lm"
    corpus = load_corpus(None if cfg.corpus is None else text_files(cfg.corpus))
    workers = cfg.workers if ctx.workers is None else ctx.workers
    cfg = replace(cfg, workers=workers) if workers != cfg.workers else cfg
    # 1. the reading study (and dense, which has one reading, at every size)
    study = {v: [Tuned(cfg.reading_width, v, rd, list(cfg.rates)) for rd in readings(cfg, v)] for v in ("lowrank", "dlor")}
    dense = [Tuned(w, "dense", cfg.start_reading(), list(cfg.rates)) for w in cfg.widths]
    _tune(cfg, study["lowrank"] + study["dlor"] + dense, folder, ctx, corpus, "lm: readings and dense")
    # 2. each variant's default reading: its own lowest tuning loss (the first reading wins a tie)
    chosen = {v: min(items, key=lambda t: _tuning_loss(t)).reading for v, items in study.items()}
    # 3. the sweep at the other sizes under the chosen readings
    tuned = {(t.width, "dense"): t for t in dense}
    for v in ("lowrank", "dlor"):
        tuned[(cfg.reading_width, v)] = next(t for t in study[v] if t.reading == chosen[v])
    rest = [Tuned(w, v, chosen[v], list(cfg.rates)) for w in cfg.widths if w != cfg.reading_width for v in ("lowrank", "dlor")]
    _tune(cfg, rest, folder, ctx, corpus, "lm: learning-rate sweep")
    tuned |= {(t.width, t.variant): t for t in rest}
    # 4. fresh seeds at the tuned rates (the verdicts), and for the reading table
    main_runs = {k: _verdict_runs(cfg, t, cfg.seeds) for k, t in tuned.items()}
    reading_runs = {(v, i): _verdict_runs(cfg, t, cfg.reading_seeds) for v in study for i, t in enumerate(study[v])}
    everything = [r for runs in list(main_runs.values()) + list(reading_runs.values()) for r in runs]
    train_all(
        folder,
        everything,
        corpus_dir=cfg.corpus,
        device=ctx.device,
        workers=cfg.workers,
        progress=ctx.progress,
        desc="lm: fresh seeds at the tuned rates",
        corpus=corpus,
    )
    verdict = {k: [finished(folder, r) for r in runs] for k, runs in main_runs.items()}
    baselines = {"uniform": math.log(VOCAB_SIZE), "unigram": unigram_loss(corpus)}
    table = _tuned_table(cfg, tuned, verdict)
    sweep = _sweep_rows(cfg, tuned, study)
    reading_table = _reading_rows(cfg, study, {k: [finished(folder, r) for r in runs] for k, runs in reading_runs.items()})
    effects = _effects(cfg, reading_table)
    fits = _power_laws(table)
    write_csv(folder / "lm_tuned.csv", table)
    write_csv(folder / "lm_sweep.csv", sweep)
    write_csv(folder / "lm_readings.csv", reading_table)
    write_csv(folder / "lm_reading_effects.csv", effects)
    write_csv(folder / "lm_power_laws.csv", fits)
    plots.lr_sweep(sweep, cfg.widths, folder / "lr_sweep.png")
    plots.size_trend(table, fits, folder / "size_trend.png")
    plots.reading_effects(effects, folder / "reading_effects.png")
    from .claims import claims

    summary = Summary(
        name="lm",
        title="Pretraining byte-level GPTs at tuned learning rates (Appendix G): DLoR vs low-rank and dense",
        figures=["lm/lr_sweep.png", "lm/size_trend.png", "lm/reading_effects.png"],
        data=[
            "lm/lm_tuned.csv",
            "lm/lm_sweep.csv",
            "lm/lm_readings.csv",
            "lm/lm_reading_effects.csv",
            "lm/lm_power_laws.csv",
            "lm/summary.json",
        ],
        claims=claims(cfg, table, fits, baselines),
        tables={
            "tuned comparison (fresh seeds at each variant's best rate)": table,
            "reading study (each reading at its own tuned rate)": reading_table,
            "how each reading choice moves low-rank minus DLoR": effects,
            "power law per variant (loss = a * params^-b)": fits,
        },
        config=asdict(cfg)
        | {
            "device": ctx.device,
            "corpus_bytes": corpus.num_bytes,
            "corpus_files": len(corpus.files),
            "baselines_nats_per_byte": baselines,
            "steps": {w: steps_for(cfg, w) for w in cfg.widths},
            "default_reading": {v: label(rd, v, cfg) for v, rd in chosen.items()},
            "default_reading_criterion": "each variant's own lowest tuning-seed validation loss",
            "param_tolerance": PARAM_TOLERANCE,
        },
        seconds=time.perf_counter() - t0,
    )
    write_json(folder / "summary.json", summary)
    return summary


def _tuned_table(cfg: LMConfig, tuned: dict, verdict: dict) -> list[dict]:
    rows = []
    for w in cfg.widths:
        for v in VARIANTS:
            t, recs = tuned[(w, v)], verdict[(w, v)]
            loss = np.array([math.inf if r["val_loss"] is None else r["val_loss"] for r in recs])
            q25, med, q75 = np.percentile(loss, [25, 50, 75])
            mc = recs[0]["model_config"]
            rows.append(
                {
                    "width": w,
                    "variant": v,
                    "params": recs[0].get("params", GPT(GPTConfig(**mc)).num_params()),
                    "n_embd": mc["n_embd"],
                    "rank": mc["rank"] if v != "dense" else "",
                    "reading": label(t.reading, v, cfg),
                    "best_rate": t.best_rate,
                    "rate_on_edge": t.on_edge,
                    "grid": " ".join(f"{r:.3g}" for r in t.rates),
                    "seeds": len(recs),
                    "val_nats_median": float(med),
                    "val_nats_q25": float(q25),
                    "val_nats_q75": float(q75),
                    "steps": recs[0]["settings"]["steps"],
                }
            )
    return rows


def _sweep_rows(cfg: LMConfig, tuned: dict, study: dict) -> list[dict]:
    rows = []
    items = list(tuned.values()) + [t for v in study for t in study[v] if t not in tuned.values()]
    for t in items:
        main = tuned.get((t.width, t.variant)) is t
        for r, loss in zip(t.rates, t.losses, strict=True):
            rows.append(
                {
                    "width": t.width,
                    "variant": t.variant,
                    "reading": label(t.reading, t.variant, cfg),
                    "default_reading": main,
                    "lr": r,
                    "val_nats": loss,
                    "diverged": loss is None,
                }
            )
    return rows


def _reading_rows(cfg: LMConfig, study: dict, fresh: dict) -> list[dict]:
    def med(recs):
        vals = [math.inf if r["val_loss"] is None else r["val_loss"] for r in recs]
        return float(np.median(vals))

    low = {label(t.reading, "lowrank", cfg): (t, med(fresh[("lowrank", i)])) for i, t in enumerate(study["lowrank"])}
    rows = []
    for i, t in enumerate(study["dlor"]):
        partner, partner_loss = low[label(t.reading, "lowrank", cfg)]
        loss = med(fresh[("dlor", i)])
        rows.append(
            {f: t.reading[f] for f in cfg.reading_factors}
            | {
                "dlor_best_rate": t.best_rate,
                "dlor_rate_on_edge": t.on_edge,
                "dlor_val_nats": loss,
                "lowrank_best_rate": partner.best_rate,
                "lowrank_rate_on_edge": partner.on_edge,
                "lowrank_val_nats": partner_loss,
                "lowrank_minus_dlor": partner_loss - loss,
            }
        )
    return rows


def _effects(cfg: LMConfig, rows: list[dict]) -> list[dict]:
    """Per factor: the mean of ``lowrank_minus_dlor`` over the readings with each of its two choices."""
    out = []
    for f in cfg.reading_factors:
        a, b = READING_CHOICES[f]
        mean = {c: float(np.mean([r["lowrank_minus_dlor"] for r in rows if r[f] == c])) for c in (a, b)}
        out.append(
            {
                "factor": f,
                "choice_a": a,
                "choice_b": b,
                "mean_diff_a": mean[a],
                "mean_diff_b": mean[b],
                "effect_b_minus_a": mean[b] - mean[a],
            }
        )
    return out


def _power_laws(table: list[dict]) -> list[dict]:
    """``loss = a * params^-b`` per variant, least squares on log loss against log params."""
    out = []
    for v in VARIANTS:
        sel = [t for t in table if t["variant"] == v and math.isfinite(t["val_nats_median"])]
        if len(sel) < 2:
            continue
        x, y = np.log([t["params"] for t in sel]), np.log([t["val_nats_median"] for t in sel])
        slope, intercept = np.polyfit(x, y, 1)
        out.append({"variant": v, "a": float(math.exp(intercept)), "exponent_b": float(-slope), "sizes": len(sel)})
    return out


def files_intact(out: Path) -> bool:
    """Every finished run under ``out/lm/runs`` reads back; the command line asks this before it
    keeps a finished ``summary.json``."""
    from .._common import read_json_checked

    runs = Path(out) / "lm" / "runs"
    if not runs.is_dir():
        return True
    return all(
        read_json_checked(d / "result.json", lambda x: isinstance(x, dict) and "val_loss" in x) is not None
        for d in sorted(runs.iterdir())
        if (d / "result.json").exists()
    )
