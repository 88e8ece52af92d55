r"""Appendix G after pretraining: DLoR adapters on a pretrained model under domain shift, against
PEFT's LoRA and DoRA, with affine drift and decoupled fine-tuning measured.

Appendix G's last claims are about pretrained models. Standard PEFT methods such as LoRA
"struggle to ... adapt to catastrophic domain shifts", and adding a diagonal ``alpha I`` to the
low-rank update is "a strict mathematical prerequisite" for universal approximation; with
``sum beta = 0`` "the original bias parameters remain strictly stable, fundamentally eliminating
affine drift"; and a pretrained network mapped onto DLoR components "allows for the fine-tuning of
each low-rank component independently". This study tests each on one frozen source model.

**Source model.** A dense byte-level GPT (``dlor.lm``) pretrained on the Shakespeare corpus, trained
once per budget and cached in the run folder under a hash of its config.

**Targets.** A mild shift, English technical prose (the Python reference topics that CPython ships),
and a catastrophic one, Python source code (the standard library's ``.py`` files). Each is split
80/10/10 into training, validation (learning rates are chosen on it) and test (the verdicts use it)
before any run.

**Methods**, on the same frozen source model: no fine-tuning (the floor), full fine-tuning (the
ceiling), PEFT's LoRA (``peft.LoraConfig``), PEFT's DoRA (``use_dora=True``) and the DLoR adapter
``s (alpha I + U V^T)`` (``dlor.peft.DLoRConfig``, ``alpha`` trained from 0). The adapters target
every attention and MLP projection at the same ranks and scale.

**Tuning.** Every method is tuned on its own learning-rate grid, on the validation split, with a
tuning seed of its own; a best rate on an edge extends the grid past it. The verdicts use fresh
seeds at the chosen rate (median and IQR). Measured per method and target: the test loss (nats per
byte), the source-domain loss after adaptation (forgetting) and the time per step relative to LoRA.

**Affine drift** and **decoupled optimisation** are measured as their sections below describe
(the modules ``finetune.drift`` and ``finetune.decoupled``). A mixture-of-experts comparison is
not run.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..._errors import DLoRError
from ...lm import GPTConfig, TrainSettings
from .._common import Summary, check_budget, check_positive_ints, median_iqr, write_csv, write_json
from .._context import RunContext
from . import plots
from .data import SHIFT, TARGETS
from .methods import ADAPTERS, Schedule
from .runs import Job, run_all, source_model

__all__ = ["FinetuneConfig", "CONFIG", "run"]

PAPER_RATES = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)


@dataclass(frozen=True)
class FinetuneConfig:
    """The source model, the fine-tuning budget, the grids and the sub-studies of ``dlor reproduce finetune``.

    Source: ``width`` (``n_embd``), ``n_layer``, ``n_head``, ``block_size``, pretrained for
    ``source_steps`` at ``source_lr``. Fine-tuning: ``steps`` of ``batch_size`` windows, ``warmup``,
    ``eval_batches``; ``ranks`` of the adapters; ``rates`` (each method's grid), ``max_extensions``,
    ``tuning_seed``, ``seeds``; ``margin`` (nats per byte: a smaller difference is a tie, as is one
    within the seeds' IQR). Drift: ``drift_rank``, ``drift_h``, ``drift_lr``, ``drift_steps``,
    ``drift_seeds``. Decoupled: ``decoupled_rank``, ``decoupled_rates``, ``decoupled_steps``,
    ``decoupled_seeds``, ``decoupled_schemes``.
    """

    budget: str = "paper"
    targets: tuple[str, ...] = TARGETS
    max_bytes: int = 2_000_000  # of the code target
    width: int = 64
    n_layer: int = 2
    n_head: int = 4
    block_size: int = 64
    source_steps: int = 3000
    source_lr: float = 3e-3
    steps: int = 400
    batch_size: int = 32
    warmup: int = 40
    eval_batches: int = 16
    ranks: tuple[int, ...] = (4, 16)
    rates: tuple[float, ...] = PAPER_RATES
    max_extensions: int = 2
    tuning_seed: int = 1000
    seeds: int = 3
    margin: float = 0.01
    drift_rank: int = 16
    drift_h: float = 0.01
    drift_lr: float = 1e-3
    drift_steps: int = 300
    drift_seeds: int = 3
    decoupled_schemes: tuple[str, ...] = ("additive", "multiplicative")
    decoupled_rank: int = 16
    decoupled_rates: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    decoupled_steps: int = 200
    decoupled_seeds: int = 3
    workers: int = 2
    shrunk: str = ""

    def __post_init__(self) -> None:
        check_budget(self.budget)
        check_positive_ints(
            self,
            ("max_bytes", "width", "n_layer", "n_head", "block_size", "source_steps", "steps", "batch_size", "warmup")
            + ("eval_batches", "seeds", "drift_rank", "drift_steps", "drift_seeds", "decoupled_rank", "decoupled_steps")
            + ("decoupled_seeds", "workers"),
        )
        check_positive_ints(self, ("ranks",), each=True)
        if not self.targets or any(t not in TARGETS for t in self.targets):
            raise DLoRError(f"targets must be a non-empty list of {', '.join(TARGETS)}, got {self.targets!r}")
        for name in ("rates", "decoupled_rates"):
            rates = getattr(self, name)
            if not rates or any(
                isinstance(r, bool) or not isinstance(r, (int, float)) or not (math.isfinite(r) and r > 0) for r in rates
            ):
                raise DLoRError(f"{name} must be positive finite learning rates, got {rates!r}")
            if list(rates) != sorted(set(rates)):
                raise DLoRError(f"{name} must be increasing without repeats, got {list(rates)}")
        if len(self.rates) < 3:
            raise DLoRError(f"rates needs at least 3 learning rates (a best rate has two neighbours), got {list(self.rates)}")
        if self.width % self.n_head:
            raise DLoRError(f"width {self.width} must be a multiple of n_head = {self.n_head}")
        if max(self.ranks) > self.width or self.drift_rank > self.width or self.decoupled_rank > self.width:
            raise DLoRError(f"every rank must be at most the width {self.width} (the smallest side of a projection)")
        for name in ("source_lr", "drift_lr", "drift_h", "margin"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
                raise DLoRError(f"{name} must be a positive finite number, got {v!r}")
        if any(s not in ("additive", "multiplicative") for s in self.decoupled_schemes):
            raise DLoRError(f"decoupled_schemes must be additive and/or multiplicative, got {self.decoupled_schemes!r}")
        if isinstance(self.max_extensions, bool) or not isinstance(self.max_extensions, int) or self.max_extensions < 0:
            raise DLoRError(f"max_extensions must be an integer >= 0, got {self.max_extensions!r}")

    @classmethod
    def paper(cls) -> FinetuneConfig:
        return cls()

    @classmethod
    def quick(cls) -> FinetuneConfig:
        return cls(
            budget="quick",
            source_steps=400,
            steps=50,
            warmup=10,
            eval_batches=8,
            ranks=(8,),
            rates=(3e-3, 1e-2, 3e-2),
            max_extensions=1,
            seeds=2,
            drift_steps=40,
            drift_seeds=2,
            decoupled_schemes=("additive",),
            decoupled_rates=(3e-3,),
            decoupled_steps=30,
            decoupled_seeds=2,
            shrunk="source model pretrained for 400 steps; 50 fine-tuning steps; rank 8 only; 3 rates (3e-3, 1e-2, 3e-2), "
            "one extension; 2 fresh seeds; drift: 40 steps, 2 seeds; decoupled: additive only, 30 steps at one rate "
            "(3e-3), 2 seeds; 8 evaluation batches",
        )

    @classmethod
    def tiny(cls) -> FinetuneConfig:
        return cls(
            budget="tiny",
            max_bytes=200_000,
            width=16,
            n_layer=1,
            n_head=2,
            block_size=16,
            source_steps=20,
            steps=4,
            batch_size=4,
            warmup=2,
            eval_batches=1,
            ranks=(2,),
            rates=(1e-3, 3e-3, 1e-2),
            max_extensions=1,
            seeds=1,
            drift_rank=8,
            drift_steps=3,
            drift_seeds=1,
            decoupled_rank=8,
            decoupled_schemes=("additive",),
            decoupled_rates=(1e-3,),
            decoupled_steps=3,
            decoupled_seeds=1,
            workers=1,
            shrunk="a smoke test: width 16, 1 layer, 20 source steps, 4 fine-tuning steps, 1 seed",
        )

    def source_config(self) -> tuple[GPTConfig, TrainSettings]:
        cfg = GPTConfig(variant="dense", n_layer=self.n_layer, n_head=self.n_head, n_embd=self.width, block_size=self.block_size)
        s = TrainSettings(
            steps=self.source_steps,
            batch_size=self.batch_size,
            lr=self.source_lr,
            warmup=max(1, min(100, self.source_steps // 10)),
            eval_every=self.source_steps,
            eval_batches=self.eval_batches,
            checkpoint_every=self.source_steps,
        )
        return cfg, s

    def schedule(self, steps: int | None = None) -> Schedule:
        return Schedule(
            steps=self.steps if steps is None else steps,
            batch_size=self.batch_size,
            block=self.block_size,
            warmup=min(self.warmup, self.steps if steps is None else steps),
            eval_batches=self.eval_batches,
        )


CONFIG = FinetuneConfig


def _arms(cfg: FinetuneConfig) -> list[tuple[str, int]]:
    return [("full", 0)] + [(m, r) for m in ADAPTERS for r in cfg.ranks]


def _extend(rates: list[float], best: float) -> float | None:
    """The next rate past the edge ``best`` sits on (the grid's own ratio), or None (not on an edge)."""
    if best == rates[0]:
        return rates[0] * rates[0] / rates[1]
    if best == rates[-1]:
        return rates[-1] * rates[-1] / rates[-2]
    return None


def _val(rec: dict) -> float:
    return (
        rec["val_loss"] if rec.get("finite") and rec.get("val_loss") is not None and math.isfinite(rec["val_loss"]) else math.inf
    )


def tune(cfg: FinetuneConfig, folder: Path, source: Path, ctx: RunContext, workers: int) -> dict:
    """Each (target, method, rank)'s rate grid, its best rate on the validation split, and whether
    it stayed on an edge; the grids of the ones on an edge extended past it, up to ``max_extensions``."""
    sched = cfg.schedule()
    grids = {(t, m, r): sorted(cfg.rates) for t in cfg.targets for m, r in _arms(cfg)}
    for round_ in range(cfg.max_extensions + 1):
        jobs = [Job(t, m, r, lr, cfg.tuning_seed, "tune") for (t, m, r), rates in grids.items() for lr in rates]
        recs = run_all(
            folder,
            jobs,
            sched,
            source=source,
            max_bytes=cfg.max_bytes,
            workers=workers,
            progress=ctx.progress,
            desc=f"finetune: tuning, round {round_ + 1}",
        )
        by = {(j.target, j.method, j.rank, j.lr): rec for j, rec in zip(jobs, recs, strict=True)}
        moved = False
        for key, rates in grids.items():
            best = min(rates, key=lambda lr: _val(by[(*key, lr)]))
            nxt = _extend(rates, best)
            if nxt is not None and round_ < cfg.max_extensions and math.isfinite(_val(by[(*key, best)])):
                grids[key] = sorted([*rates, nxt])
                moved = True
        if not moved:
            break
    out = {}
    for key, rates in grids.items():
        best = min(rates, key=lambda lr: _val(by[(*key, lr)]))
        out[key] = {
            "rates": rates,
            "best": best,
            "edge": _extend(rates, best) is not None,
            "sweep": [by[(*key, lr)] for lr in rates],
        }
    return out


def _stat(values: list[float]) -> dict:
    med, q25, q75 = median_iqr(values)
    return {"median": med, "q25": q25, "q75": q75, "iqr": q75 - q25}


def run(cfg: FinetuneConfig, out: Path, ctx: RunContext) -> Summary:
    """Run the study (see the module docstring) into ``out/finetune``."""
    from .claims import claims
    from .studies import decoupled_study, drift_study

    if ctx.device != "cpu":
        raise DLoRError(f"finetune runs on the CPU (its models are small); got --device {ctx.device}: leave --device out")
    try:
        import dlor.peft  # noqa: F401  (LoRA and DoRA come from PEFT itself, and the DLoR adapter through it)
    except ImportError:
        raise DLoRError(
            "finetune compares against PEFT's LoRA and DoRA, and the peft package is not installed: "
            "pip install 'dlor[hf]' (or make setup)"
        ) from None
    t0 = time.perf_counter()
    folder = Path(out) / "finetune"
    folder.mkdir(parents=True, exist_ok=True)
    workers = cfg.workers if ctx.workers is None else ctx.workers
    cfg = replace(cfg, workers=workers) if workers != cfg.workers else cfg
    source, source_rec = source_model(folder, *cfg.source_config(), progress=ctx.progress)
    sched = cfg.schedule()
    tuned = tune(cfg, folder, source, ctx, workers)
    floors = [Job(t, "none", 0, 0.0, 0, "seed") for t in cfg.targets]
    seeds = [Job(t, m, r, tuned[(t, m, r)]["best"], s, "seed") for (t, m, r) in tuned for s in range(cfg.seeds)]
    recs = run_all(
        folder,
        floors + seeds,
        sched,
        source=source,
        max_bytes=cfg.max_bytes,
        workers=workers,
        progress=ctx.progress,
        desc="finetune: fresh seeds at the chosen rates",
    )
    by_job = dict(zip(floors + seeds, recs, strict=True))
    table, sweep = [], []
    for t in cfg.targets:
        floor = by_job[floors[cfg.targets.index(t)]]
        table.append(
            {
                "target": t,
                "shift": SHIFT[t],
                "method": "none",
                "rank": 0,
                "trainable": 0,
                "best_rate": None,
                "rate_on_edge": False,
                "test_median": floor["test_loss"],
                "test_q25": floor["test_loss"],
                "test_q75": floor["test_loss"],
                "source_loss": floor["source_loss"],
                "seconds_per_step": 0.0,
                "time_vs_lora": None,
            }
        )
        for m, r in _arms(cfg):
            info = tuned[(t, m, r)]
            runs = [by_job[j] for j in seeds if (j.target, j.method, j.rank) == (t, m, r)]
            test = _stat([x["test_loss"] for x in runs if x.get("finite")])
            lora_time = (
                np.median([by_job[j]["seconds_per_step"] for j in seeds if (j.target, j.method, j.rank) == (t, "lora", r)])
                if r
                else math.nan
            )
            step = float(np.median([x["seconds_per_step"] for x in runs]))
            table.append(
                {
                    "target": t,
                    "shift": SHIFT[t],
                    "method": m,
                    "rank": r,
                    "trainable": runs[0]["trainable"],
                    "best_rate": info["best"],
                    "rate_on_edge": info["edge"],
                    "test_median": test["median"],
                    "test_q25": test["q25"],
                    "test_q75": test["q75"],
                    "source_loss": float(np.median([x["source_loss"] for x in runs if x.get("finite")] or [math.nan])),
                    "seconds_per_step": step,
                    "time_vs_lora": step / lora_time if r else None,
                }
            )
            sweep += [
                {"target": t, "method": m, "rank": r, "lr": x["lr"], "val_loss": x.get("val_loss"), "finite": x["finite"]}
                for x in info["sweep"]
            ]
    drift = drift_study(cfg, folder, source, ctx)
    decoupled = decoupled_study(cfg, folder, source, ctx)
    write_csv(folder / "finetune_methods.csv", table)
    write_csv(folder / "finetune_sweep.csv", sweep)
    write_csv(folder / "finetune_drift.csv", drift)
    write_csv(folder / "finetune_decoupled.csv", decoupled)
    plots.rate_sweeps(sweep, cfg, folder / "loss_vs_rate.png")
    plots.loss_vs_params(table, cfg, folder / "loss_vs_params.png")
    summary = Summary(
        name="finetune",
        title="Fine-tuning a pretrained model under domain shift (Appendix G): DLoR adapters against PEFT's LoRA and DoRA",
        figures=["finetune/loss_vs_rate.png", "finetune/loss_vs_params.png"],
        data=[f"finetune/{n}.csv" for n in ("finetune_methods", "finetune_sweep", "finetune_drift", "finetune_decoupled")],
        claims=claims(cfg, table, drift, decoupled),
        tables={"Methods (test loss in nats per byte, median over fresh seeds)": table},
        config=asdict(cfg) | {"source_val_loss": source_rec["val_loss"], "source_params": source_rec["params"]},
        seconds=time.perf_counter() - t0,
    )
    write_json(folder / "summary.json", summary.to_dict())
    return summary
