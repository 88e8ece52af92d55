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
   The claims are computed from their medians; the size trend fits a power law per variant,
   bootstrapped over the seeds for an interval of each exponent and of the size at which
   DLoR's advantage over low-rank would reach zero (`.trend`).

Three further stages ask what the advantage is made of; their items are tuned in the same sweep
as step 3 and their fresh seeds train with step 4:

* **Sparse plus low-rank** (SLTrain, Han et al. 2024, cited in Appendix G): ``S + U V^T`` with a
  fixed random support, at DLoR's parameter count within 1% (`.shapes.matched_sltrain`), tuned
  and seeded at every size like the other variants (``sltrain``).
* **The mechanism** at ``reading_width``: ``alpha`` frozen at 1, trainable from 1 and trainable
  from 0 (`.mechanism`; ``mechanism``).
* **The training length** at ``length_widths``: every variant at each budget of ``lengths``
  tokens per parameter, tuned again at each (`.lengths`).

The token budget grows with the model: ``tokens_per_param`` training tokens per parameter of the
size's DLoR model (Hoffmann et al. 2022, "Chinchilla", train compute-optimal models on about 20
tokens per parameter; the paper budget spends half of that, 10 per parameter), and at least ``min_steps`` steps.

Every run is resumable: finished runs are kept in ``lm/runs/*/result.json`` and an interrupted
one continues from its checkpoint.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..._errors import DLoRError
from ...lm import GPT, GPTConfig
from ...lm.data import VOCAB_SIZE
from .._common import Summary, write_csv, write_json
from .._registry import RunContext
from . import lengths, mechanism, plots, trend
from .runs import Runner, finished, text_files
from .shapes import PARAM_TOLERANCE, SLTRAIN_DENSITY, unigram_loss
from .study import (
    READING_CHOICES,
    Tuned,
    label,
    loss_quartiles,
    model_config,
    readings,
    settings_for,
    steps_for,
    tune_items,
    tuning_loss,
    verdict_runs,
)

__all__ = ["LMConfig", "CONFIG", "READING_CHOICES", "run", "model_config", "settings_for", "files_intact"]

VARIANTS = ("dense", "lowrank", "dlor")
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
    # SLTrain (sparse+lowrank) in the tuned study, at DLoR's parameters (see shapes.matched_sltrain)
    sltrain: bool = True
    sltrain_density: float = SLTRAIN_DENSITY
    # alpha frozen at 1, trainable from 1 and trainable from 0, at reading_width (see .mechanism)
    mechanism: bool = True
    # the training-length trend (see .lengths): tokens per parameter at each of length_widths
    lengths: tuple[float, ...] = (10.0, 40.0, 160.0)
    length_widths: tuple[int, ...] = (32, 64)
    bootstrap: int = 2000  # resamples of the seeds behind each power-law fit (see .trend)
    crossing_span: float = 100.0  # a size-trend crossing counts within this factor of the largest size
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
        missing = [w for w in self.length_widths if w not in self.widths]
        if missing:
            raise DLoRError(
                f"length_widths {missing} are not among the widths {self.widths}; a length trend needs its size's study"
            )
        for per in self.lengths:
            _positive("every entry of lengths", per)
        if list(self.lengths) != sorted(set(self.lengths)) or (self.lengths and len(self.lengths) < 2):
            raise DLoRError(f"lengths must be at least two increasing token budgets per parameter, got {self.lengths!r}")
        if self.lengths and self.tokens_per_param not in self.lengths:
            raise DLoRError(
                f"lengths {self.lengths} must include the study's tokens_per_param = {self.tokens_per_param} "
                "(the trend reuses its runs)"
            )
        _positive("bootstrap", self.bootstrap, integer=True)
        _positive("crossing_span", self.crossing_span)
        if not 0 < self.sltrain_density < 1:
            raise DLoRError(f"sltrain_density must lie in (0, 1), got {self.sltrain_density!r}")
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
            lengths=(2.0, 8.0),
            length_widths=(32,),
            bootstrap=500,
            shrunk="widths 16, 32 and 64; 2 tokens per parameter (at least 80 steps); 3 rates (1e-3, 3e-3, 1e-2); "
            "2 fresh seeds; the reading study crosses alpha_init and rect_alpha only; 8 validation batches; "
            "the length trend at width 32 only, 2 and 8 tokens per parameter; 500 bootstrap resamples",
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
            lengths=(0.5, 4.0),
            length_widths=(16,),
            bootstrap=50,
            shrunk="a smoke test: 1 layer, widths 8-24, 30+ steps, 3 rates, 1 seed, 2 reading factors, "
            "a length trend of 0.5 and 4 tokens per parameter at width 16, 50 bootstrap resamples",
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
    runner = Runner(folder, corpus_dir=cfg.corpus, device=ctx.device, workers=cfg.workers, progress=ctx.progress, corpus=corpus)
    with runner:  # one set of worker processes serves every round of the study
        # 1. the reading study (and dense, which has one reading, at every size)
        study = {v: [Tuned(cfg.reading_width, v, rd, list(cfg.rates)) for rd in readings(cfg, v)] for v in ("lowrank", "dlor")}
        dense = [Tuned(w, "dense", cfg.start_reading(), list(cfg.rates)) for w in cfg.widths]
        tune_items(cfg, study["lowrank"] + study["dlor"] + dense, runner, "lm: readings and dense")
        # 2. each variant's default reading: its own lowest tuning loss (the first reading wins a tie)
        chosen = {v: min(items, key=lambda t: tuning_loss(t)).reading for v, items in study.items()}
        # 3. the sweep at the other sizes under the chosen readings
        tuned = {(t.width, "dense"): t for t in dense}
        for v in ("lowrank", "dlor"):
            tuned[(cfg.reading_width, v)] = next(t for t in study[v] if t.reading == chosen[v])
        rest = [
            Tuned(w, v, chosen[v], list(cfg.rates)) for w in cfg.widths if w != cfg.reading_width for v in ("lowrank", "dlor")
        ]
        variants = VARIANTS + (("sparse+lowrank",) if cfg.sltrain else ())
        if cfg.sltrain:  # SLTrain takes low-rank's reading (its factors are a low-rank term)
            rest += [Tuned(w, "sparse+lowrank", chosen["lowrank"], list(cfg.rates)) for w in cfg.widths]
        # the mechanism readings and the training-length trend: more items, tuned in the same sweep
        mech = mechanism.items(cfg, chosen["dlor"]) if cfg.mechanism else {}
        at_lengths = lengths.items(cfg, chosen, tuned | {(t.width, t.variant): t for t in rest}) if cfg.lengths else {}
        extra = list(mech.values()) + [t for (w, per, v), t in at_lengths.items() if per != cfg.tokens_per_param]
        tune_items(cfg, rest + extra, runner, "lm: learning-rate sweep")
        tuned |= {(t.width, t.variant): t for t in rest}
        # 4. fresh seeds at the tuned rates (the verdicts), and for the reading, mechanism and length tables
        main_runs = {k: verdict_runs(cfg, t, cfg.seeds) for k, t in tuned.items()}
        reading_runs = {(v, i): verdict_runs(cfg, t, cfg.reading_seeds) for v in study for i, t in enumerate(study[v])}
        mech_runs = {n: verdict_runs(cfg, t, cfg.seeds) for n, t in mech.items()}
        length_runs = {k: verdict_runs(cfg, t, cfg.seeds) for k, t in at_lengths.items()}
        groups: list[dict] = [main_runs, reading_runs, mech_runs, length_runs]
        everything = [r for runs_of in groups for runs in runs_of.values() for r in runs]
        runner.train(everything, "lm: fresh seeds at the tuned rates")

    def records(runs_of: dict) -> dict:
        return {k: [finished(folder, r) for r in runs] for k, runs in runs_of.items()}

    verdict = records(main_runs)
    baselines = {"uniform": math.log(VOCAB_SIZE), "unigram": unigram_loss(corpus)}
    table = _tuned_table(cfg, tuned, verdict, variants)
    sweep = _sweep_rows(cfg, tuned, study)
    reading_table = _reading_rows(cfg, study, records(reading_runs))
    effects = _effects(cfg, reading_table)
    finite = {k: [r["val_loss"] for r in recs if r["val_loss"] is not None] for k, recs in verdict.items()}
    fits, crossing = trend.bootstrap(cfg, finite, {(t["width"], t["variant"]): t["params"] for t in table}, variants)
    write_csv(folder / "lm_tuned.csv", table)
    write_csv(folder / "lm_sweep.csv", sweep)
    write_csv(folder / "lm_readings.csv", reading_table)
    write_csv(folder / "lm_reading_effects.csv", effects)
    write_csv(folder / "lm_power_laws.csv", fits)
    write_csv(folder / "lm_crossing.csv", [crossing] if crossing else [])
    data = ["lm_tuned.csv", "lm_sweep.csv", "lm_readings.csv", "lm_reading_effects.csv", "lm_power_laws.csv", "lm_crossing.csv"]
    figures = ["lr_sweep.png", "size_trend.png", "reading_effects.png"]
    plots.lr_sweep(sweep, cfg.widths, folder / "lr_sweep.png")
    plots.size_trend(table, fits, folder / "size_trend.png")
    plots.reading_effects(effects, folder / "reading_effects.png")
    tables: dict[str, list[dict]] = {}
    mech_table: list[dict] = []
    if mech:
        low = tuned[(cfg.reading_width, "lowrank")]
        mech_table = mechanism.table(cfg, mech, records(mech_runs), low, verdict[(cfg.reading_width, "lowrank")])
        write_csv(folder / "lm_mechanism.csv", mech_table)
        data.append("lm_mechanism.csv")
        tables[f"what the gain is made of (width {cfg.reading_width}, each reading at its own tuned rate)"] = mech_table
    length_gaps: list[dict] = []
    if at_lengths:
        length_rows = lengths.table(cfg, at_lengths, records(length_runs))
        length_gaps = lengths.gaps(length_rows)
        length_fits = lengths.fits(length_gaps)
        write_csv(folder / "lm_lengths.csv", length_rows)
        write_csv(folder / "lm_length_gaps.csv", length_gaps)
        write_csv(folder / "lm_length_fits.csv", length_fits)
        data += ["lm_lengths.csv", "lm_length_gaps.csv", "lm_length_fits.csv"]
        plots.length_trend(length_gaps, length_fits, folder / "length_trend.png")
        figures.append("length_trend.png")
        tables["the gap against training length (each variant tuned at each length)"] = length_gaps
    from .claims import claims

    summary = Summary(
        name="lm",
        title="Pretraining byte-level GPTs at tuned learning rates (Appendix G): DLoR vs low-rank and dense",
        figures=[f"lm/{f}" for f in figures],
        data=[f"lm/{f}" for f in data] + ["lm/summary.json"],
        claims=claims(cfg, table, fits, baselines, crossing=crossing, length_gaps=length_gaps),
        tables={
            "tuned comparison (fresh seeds at each variant's best rate)": table,
            "reading study (each reading at its own tuned rate)": reading_table,
            "how each reading choice moves low-rank minus DLoR": effects,
            "power law per variant (loss = a * params^-b; b interval: bootstrap over seeds)": fits,
        }
        | tables,
        config=asdict(cfg)
        | {
            "device": ctx.device,
            "corpus_bytes": corpus.num_bytes,
            "corpus_files": len(corpus.files),
            "baselines_nats_per_byte": baselines,
            "steps": {w: steps_for(cfg, w) for w in cfg.widths},
            "crossing": crossing,
            "default_reading": {v: label(rd, v, cfg) for v, rd in chosen.items()},
            "default_reading_criterion": "each variant's own lowest tuning-seed validation loss",
            "param_tolerance": PARAM_TOLERANCE,
        },
        seconds=time.perf_counter() - t0,
    )
    write_json(folder / "summary.json", summary)
    return summary


def _tuned_table(cfg: LMConfig, tuned: dict, verdict: dict, variants: tuple[str, ...]) -> list[dict]:
    rows = []
    for w in cfg.widths:
        for v in variants:
            t, recs = tuned[(w, v)], verdict[(w, v)]
            mc = recs[0]["model_config"]
            rows.append(
                {
                    "width": w,
                    "variant": v,
                    "params": recs[0].get("params", GPT(GPTConfig(**mc)).num_params()),
                    "n_embd": mc["n_embd"],
                    "rank": mc["rank"] if v != "dense" else "",
                    "density": mc.get("density") or "",
                    "reading": label(t.reading, v, cfg),
                    "best_rate": t.best_rate,
                    "rate_on_edge": t.on_edge,
                    "grid": " ".join(f"{r:.3g}" for r in t.rates),
                    "seeds": len(recs),
                }
                | loss_quartiles(recs)
                | {"steps": recs[0]["settings"]["steps"]}
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
        return loss_quartiles(recs)["val_nats_median"]

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
