r"""Appendix D: depth against width in the DLoR family, measured three ways at matched parameters.

* **What each family can express.** The deep network of [`dlor.expressivity.sawtooth_network`][dlor.expressivity.sawtooth_network]
  (``L`` rank-1 components, ``7 L + 7`` parameters) has exactly ``2^L`` linear pieces, counted by
  [`dlor.expressivity.count_pieces`][dlor.expressivity.count_pieces]; the smallest wide network whose
  piece bound ([`dlor.expressivity.wide_piece_bound`][dlor.expressivity.wide_piece_bound]) allows
  ``2^L`` needs parameters exponential in ``L``.
* **What it expresses at initialisation.** Pieces on ``[-2, 2]`` of the H.2 families with ReLU,
  drawn as the library initialises them, over many seeds (Hanin & Rolnick 2019: for dense ReLU
  networks the typical count grows with the number of neurons, not exponentially with depth).
* **What it learns.** The Section 6 trainer under its default reading fits the H.1 sawtooth at
  increasing frequencies; the smallest parameter budget of each family that reaches a stated
  test error. Each (family, budget, frequency, activation) trains at its own learning rate,
  chosen on a validation split by the rule of `dlor.experiments._tuning` (20% of the training
  points held out; a log-spaced grid around the paper's 5e-3, extended past an edge at most
  three times; half the epochs; the lowest median validation MSE wins), then with fresh seeds on
  the whole training set at that rate. A (frequency, activation) cell where a DLoR family's best
  rate stays on an edge is not judged. Every family at the paper's 5e-3 (Appendix H.2) is kept as
  a second, labelled reading. Budgets are compared by rung (width 8, 16, 32): at one rung the
  three families' parameter counts differ by at most 6% (the tables give them), while the rungs
  differ by 3x or more, so a family that reaches the target at a lower rung also does so with
  fewer parameters.

Paper: Appendix D (and the abstract's last sentence); Appendix H.1-H.2 for the target and trainer.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from ..._errors import DLoRError
from ...expressivity import (
    count_pieces,
    deep_params,
    sawtooth_network,
    sawtooth_network_params,
    smallest_wide_network,
    tent_power,
)
from ...nn import ACTIVATIONS, MLP, DeepDLoR, WideDLoR, rank_for
from ...train import GroupSpec, TrainConfig
from .._common import Summary, check_positive_ints, median_iqr, write_csv, write_json
from .._data import TARGET_VARIANCE, check_split
from .._registry import RunContext
from .._sweep import available_cores, read_group_rows, train_groups, validation_scorer
from .._tuning import log_grid, tune
from . import plots
from .claims import claims as _claims

__all__ = ["ExpressivityConfig", "CONFIG", "run"]


@dataclass(frozen=True)
class ExpressivityConfig:
    """Settings of the depth-against-width study (Appendix D; the paper gives no numbers).

    The trained part follows the Section 6 trainer's default reading (minibatches of 32, the
    interleaved split, the library initialisation, Appendix H.2's Adam and plateau schedule).
    """

    budget: str = "paper"
    max_depth: int = 20  # the construction: L = 1 .. max_depth tents (2^20 pieces)
    interval: tuple[float, float] = (-2.0, 2.0)  # where pieces are counted at initialisation (H.1's domain)
    init_seeds: int = 20  # networks drawn per architecture at initialisation
    # (width, ks) of the deep and wide families at initialisation: Table 1's budgets (width 16)
    # and larger ones; each dense MLP [1, w, w, 1] is matched to the deep network's parameter count
    init_grid: tuple[tuple[int, tuple[int, ...]], ...] = (
        (16, (1, 2, 4, 8, 16)),
        (32, (1, 2, 4, 8, 16, 32)),
        (64, (1, 4, 16, 64)),
    )
    frequencies: tuple[float, ...] = (1.85, 3.7, 7.4, 14.8)  # lambda of the H.1 sawtooth, doubling from half of 3.7
    activations: tuple[str, ...] = ("relu", "softplus")  # ReLU as counted; softplus as in the paper
    trained_k: int = 4  # substructures of the trained deep and wide models (rank = width / k)
    trained_widths: tuple[int, ...] = (8, 16, 32)  # parameter budgets: about 190, 630 and 2,300
    seeds: int = 5  # trained models per (family, budget, frequency, activation)
    epochs: int = 5_000  # the paper's practical budget (Section 6.2, Experiment 1)
    # a model "reaches the target" when its test MSE is at most this fraction of the target's
    # variance (1/12, the trivial predictor's error): it explains >= 90% of the variance
    error_fraction: float = 0.1
    batch_size: int | None = 32
    split: str = "interleaved"
    init: str = "library"
    workers: int = field(default_factory=available_cores)
    # compile each group's epoch with TorchInductor: about 7x faster per epoch on this machine's
    # groups (4.3 against 30.7 ms at width 32, measured), after 10-60 s of compile per graph; the
    # groups of one (family, width, activation) share a graph, so the paper budget compiles 18
    compile: bool = False
    rates: tuple[float, ...] = log_grid(5e-3, 5, 2.0)  # the tuning grid around the paper's rate
    tuning_epochs: int = 2_500
    tuning_seeds: int = 1
    tuning_seed: int = 1000  # tuning seeds are tuning_seed, tuning_seed + 1, ...: apart from the fresh ones
    validation_fraction: float = 0.2  # of the training points, held out to choose the rates
    shrunk: str = ""  # what this budget leaves out of the paper budget (printed in the report)

    def __post_init__(self):
        if isinstance(self.max_depth, bool) or not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise DLoRError(f"max_depth (L) must be an integer >= 1, got {self.max_depth!r}")
        a, b = self.interval
        if not (math.isfinite(a) and math.isfinite(b) and a < b):
            raise DLoRError(f"interval ({a}, {b}) is empty or not finite; pass (a, b) with a < b")
        check_positive_ints(self, ("init_seeds", "seeds", "epochs", "trained_k", "workers"))
        if not self.frequencies or any(not (math.isfinite(f) and f > 0) for f in self.frequencies):
            raise DLoRError(f"frequencies must be positive and finite, got {self.frequencies!r}")
        for act in self.activations:
            if act not in ACTIVATIONS:
                raise DLoRError(f"unknown activation {act!r}; choose from {list(ACTIVATIONS)}")
        if not 0 < self.error_fraction < 1:
            raise DLoRError(f"error_fraction must be in (0, 1), got {self.error_fraction}")
        check_split(self.split)
        TrainConfig(batch_size=self.batch_size)  # validates it
        check_positive_ints(self, ("tuning_epochs", "tuning_seeds"))
        if len(self.rates) < 2 or not all(isinstance(r, (int, float)) and 0 < r < 1 for r in self.rates):
            raise DLoRError(f"rates must be at least two learning rates in (0, 1), got {self.rates!r}")
        if not 0 < self.validation_fraction < 1:
            raise DLoRError(f"validation_fraction must lie in (0, 1), got {self.validation_fraction!r}")

    @classmethod
    def paper(cls) -> ExpressivityConfig:
        return cls(compile=True)

    @classmethod
    def quick(cls) -> ExpressivityConfig:
        return cls(
            budget="quick",
            init_seeds=10,
            init_grid=((16, (1, 2, 4, 8, 16)), (32, (1, 4, 16, 32))),
            frequencies=(3.7, 14.8),
            activations=("relu",),
            trained_widths=(8, 16),
            seeds=3,
            epochs=1_000,
            rates=log_grid(5e-3, 3, 2.0),
            tuning_epochs=500,
            shrunk="10 initial draws of 20; init widths 16 and 32 only; frequencies 3.7 and 14.8; ReLU only; "
            "budgets of width 8 and 16; 3 seeds; 1,000 epochs; rates tuned on a 3-rate grid (5e-4, 5e-3, 5e-2) "
            "for 500 epochs",
        )

    @classmethod
    def tiny(cls) -> ExpressivityConfig:
        return cls(
            budget="tiny",
            max_depth=6,
            init_seeds=3,
            init_grid=((16, (1, 4)),),
            frequencies=(3.7,),
            activations=("relu",),
            trained_widths=(8,),
            seeds=1,
            epochs=20,
            workers=1,
            rates=(1e-3, 1e-2),
            tuning_epochs=10,
            shrunk="a smoke test: L <= 6, 3 initial draws, one budget, one seed, 20 epochs, a 2-rate grid tuned for 10 epochs",
        )

    @property
    def error_threshold(self) -> float:
        return self.error_fraction * TARGET_VARIANCE


CONFIG = ExpressivityConfig


def matched_dense_width(params: int) -> int:
    """The width ``w`` of ``MLP([1, w, w, 1])`` (``w^2 + 4 w + 1`` parameters) closest to ``params``."""
    w = max(1, round(-2 + math.sqrt(max(3 + params, 0))))
    return min((max(1, w + d) for d in (-1, 0, 1)), key=lambda v: abs(v * v + 4 * v + 1 - params))


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------- 1. the construction
def construction_rows(cfg: ExpressivityConfig) -> list[dict]:
    """Per L: the deep construction's parameters, counted pieces and error against the closed
    form; the smallest wide network that the bound lets reach ``2^L`` pieces."""
    x = torch.cat(
        [
            torch.linspace(0.0, 1.0, 4097, dtype=torch.float64),
            torch.rand(4096, generator=torch.Generator().manual_seed(0), dtype=torch.float64),
        ]
    )[:, None]
    rows = []
    for L in range(1, cfg.max_depth + 1):
        net = sawtooth_network(L)
        with torch.no_grad():
            err = float((net(x) - tent_power(x, L)).abs().max())
        wide = smallest_wide_network(2**L)
        rows.append(
            {
                "L": L,
                "target_pieces": 2**L,
                "deep_params": sawtooth_network_params(L),
                "deep_pieces_counted": count_pieces(net, (0.0, 1.0)).pieces,
                "deep_max_abs_error": err,
                "wide_min_params": wide.params,
                "wide_min_width": wide.width,
                "wide_min_k": wide.k,
                "wide_bound": wide.bound,
            }
        )
    return rows


# ---------------------------------------------------------------------------- 2. at initialisation
def init_rows(cfg: ExpressivityConfig) -> list[dict]:
    """Pieces and regions of freshly initialised ReLU networks, one row per (family, shape, seed)."""
    rows = []
    for width, ks in cfg.init_grid:
        for k in ks:
            for seed in range(cfg.init_seeds):
                nets: dict[str, nn.Module] = {}
                torch.manual_seed(seed)
                nets["deep"] = DeepDLoR(k, width=width, init=cfg.init, activation="relu")
                torch.manual_seed(seed)
                nets["wide"] = WideDLoR(k, width=width, init=cfg.init, activation="relu")
                w = matched_dense_width(_count(nets["deep"]))
                torch.manual_seed(seed)
                nets["dense"] = MLP([1, w, w, 1], activation="relu")
                for family, net in nets.items():
                    c = count_pieces(net, cfg.interval)
                    rows.append(
                        {
                            "family": family,
                            "width": width if family != "dense" else w,
                            "k": k,
                            "budget_of": f"w{width}_k{k}",
                            "params": _count(net),
                            "seed": seed,
                            "pieces": c.pieces,
                            "regions": c.regions,
                        }
                    )
    return rows


def init_summary(rows: list[dict]) -> list[dict]:
    """Median and IQR of the pieces per (family, budget)."""
    out = []
    for key in dict.fromkeys((r["budget_of"], r["family"]) for r in rows):
        sel = [r for r in rows if (r["budget_of"], r["family"]) == key]
        med, q1, q3 = median_iqr(r["pieces"] for r in sel)
        out.append(
            {
                "budget_of": key[0],
                "family": key[1],
                "width": sel[0]["width"],
                "k": sel[0]["k"],
                "params": sel[0]["params"],
                "seeds": len(sel),
                "pieces_median": med,
                "pieces_q1": q1,
                "pieces_q3": q3,
                "pieces_per_param": med / sel[0]["params"],
                "regions_median": median_iqr(r["regions"] for r in sel)[0],
            }
        )
    return out


# ---------------------------------------------------------------------------- 3. after training
def _tag(freq: float, act: str) -> str:
    return f"f{freq:g}_{act}"


def cells(cfg: ExpressivityConfig) -> list[tuple]:
    """Every trained cell: ``(frequency, activation, width, family)``."""
    return [
        (freq, act, width, arch)
        for freq in cfg.frequencies
        for act in cfg.activations
        for width in cfg.trained_widths
        for arch in ("deep", "wide", "dense")
    ]


def cell_group(
    cfg: ExpressivityConfig, cell: tuple, seeds: list[int], lrs: list[float] | None, tag: str = "", **extra
) -> GroupSpec:
    """The group of one cell: ``seeds`` (one model each), at the rates ``lrs`` (None: the
    trainer's default, the paper's 5e-3); ``extra`` goes into every member's row (and
    ``validation`` into its data: see ``_sweep.group_data``)."""
    freq, act, width, arch = cell
    members = [{"split": cfg.split, "split_seed": 0, "frequency": freq} | extra for _ in seeds]
    suffix = f"_{tag}" if tag else ""
    if arch == "dense":
        w = matched_dense_width(deep_params(cfg.trained_k, width, rank_for(cfg.trained_k, width)))
        return GroupSpec(
            "dense",
            None,
            [1, w, w, 1],
            seeds,
            tag=_tag(freq, act) + suffix,
            member_extra=members,
            activation=act,
            extra={"budget_of": f"w{width}"},
            lrs=lrs,
        )
    return GroupSpec(
        arch,
        cfg.trained_k,
        [1, width, width, 1],
        seeds,
        tag=f"w{width}_{_tag(freq, act)}{suffix}",
        inits=[cfg.init] * len(seeds),
        member_extra=members,
        activation=act,
        extra={"budget_of": f"w{width}"},
        lrs=lrs,
    )


def trained_groups(cfg: ExpressivityConfig, choices: dict | None = None) -> list[GroupSpec]:
    """The fresh-seed groups of every cell: at the paper's rate, or at each cell's chosen rate."""
    seeds = list(range(cfg.seeds))
    if choices is None:
        return [cell_group(cfg, c, seeds, None) for c in cells(cfg)]
    return [cell_group(cfg, c, seeds, [choices[c].rate] * len(seeds), tag="tuned") for c in cells(cfg)]


def choose_rates(cfg: ExpressivityConfig, tcfg: TrainConfig, runs: Path, ctx: RunContext, workers: int):
    """Each cell's rate by the rule of ``_tuning``, on a validation split of its training points;
    every tuning group is a finished-run file under ``runs`` (an interrupted study resumes)."""
    seeds = [cfg.tuning_seed + s for s in range(cfg.tuning_seeds)]
    tune_cfg = replace(tcfg, epochs=cfg.tuning_epochs, checkpoint_every=max(cfg.tuning_epochs // 5, 1))
    rows: list[dict] = []

    def group(cell: tuple, members: list[int], lrs: list[float], tag: str) -> GroupSpec:
        return cell_group(cfg, cell, members, lrs, tag=tag, validation=cfg.validation_fraction)

    train = {"workers": workers, "progress": ctx.progress, "device": ctx.device}
    score = validation_scorer(runs, group, seeds, tune_cfg, "float32", rows, **train)
    return tune(cells(cfg), cfg.rates, score, higher_is_better=False), rows


def trained_summary(rows: list[dict], cfg: ExpressivityConfig) -> tuple[list[dict], list[dict]]:
    """Median test MSE per (frequency, activation, family, budget), and per (frequency,
    activation, family) the smallest budget whose median reaches ``cfg.error_threshold``. The
    budgets are the rungs ``w8 < w16 < ...`` (deep, wide and dense matched within a few percent
    at each), so families are compared by rung, not by their small differences in parameters."""
    per = []
    for key in dict.fromkeys((r["frequency"], r["activation"], r["arch"], r["budget_of"]) for r in rows):
        sel = [r for r in rows if (r["frequency"], r["activation"], r["arch"], r["budget_of"]) == key]
        med, q1, q3 = median_iqr(r["test_mse_final"] for r in sel)
        per.append(
            {
                "frequency": key[0],
                "activation": key[1],
                "family": key[2],
                "budget_of": key[3],
                "params": sel[0]["params"],
                "seeds": len(sel),
                "test_mse_median": med,
                "test_mse_q1": q1,
                "test_mse_q3": q3,
                "reaches_threshold": bool(med <= cfg.error_threshold),
            }
        )
    rungs = [f"w{w}" for w in cfg.trained_widths]  # the budgets in increasing size
    smallest = []
    for cell in dict.fromkeys((p["frequency"], p["activation"], p["family"]) for p in per):
        ok: list[tuple] = sorted(
            (rungs.index(p["budget_of"]), p["params"])
            for p in per
            if (p["frequency"], p["activation"], p["family"]) == cell and p["reaches_threshold"]
        )
        smallest.append(
            {
                "frequency": cell[0],
                "activation": cell[1],
                "family": cell[2],
                "smallest_budget": rungs[ok[0][0]] if ok else None,
                "smallest_budget_index": ok[0][0] if ok else None,
                "smallest_params_reaching": ok[0][1] if ok else None,
            }
        )
    return per, smallest


def run(cfg: ExpressivityConfig, out: Path, ctx: RunContext) -> Summary:
    """Measure, plot and judge; writes ``expressivity/`` under ``out`` and returns the summary."""
    t0 = time.perf_counter()
    folder = Path(out) / "expressivity"
    construction = construction_rows(cfg)
    write_csv(folder / "construction.csv", construction)
    at_init = init_rows(cfg)
    write_csv(folder / "init_pieces.csv", at_init)
    init_table = init_summary(at_init)
    write_csv(folder / "init_summary.csv", init_table)
    paper_groups = trained_groups(cfg)
    tcfg = TrainConfig(
        epochs=cfg.epochs,
        eval_epochs=(),
        success_threshold=cfg.error_threshold,
        checkpoint_every=max(cfg.epochs // 5, 1),
        batch_size=cfg.batch_size,
        compile=cfg.compile,
    )
    runs = folder / "runs"
    workers = ctx.workers if ctx.workers is not None else cfg.workers
    train_groups(runs, paper_groups, tcfg, "float32", workers=workers, progress=ctx.progress, device=ctx.device)
    at_paper_rate = read_group_rows(runs, paper_groups)
    write_csv(folder / "trained_runs_paper_rate.csv", at_paper_rate)
    paper_per_budget, paper_smallest = trained_summary(at_paper_rate, cfg)
    write_csv(folder / "trained_summary_paper_rate.csv", paper_per_budget)
    choices, tuning_rows = choose_rates(cfg, tcfg, runs, ctx, workers)
    write_csv(folder / "tuning_runs.csv", tuning_rows)
    chosen = [
        {"frequency": c[0], "activation": c[1], "budget_of": f"w{c[2]}", "family": c[3]} | choices[c].row() for c in cells(cfg)
    ]
    write_csv(folder / "chosen_rates.csv", chosen)
    tuned_groups = trained_groups(cfg, choices)
    train_groups(runs, tuned_groups, tcfg, "float32", workers=workers, progress=ctx.progress, device=ctx.device)
    trained = read_group_rows(runs, tuned_groups)
    write_csv(folder / "trained_runs.csv", trained)
    per_budget, smallest = trained_summary(trained, cfg)
    write_csv(folder / "trained_summary.csv", per_budget)
    write_csv(folder / "trained_smallest_budget.csv", smallest)
    figures = [
        plots.construction(construction, folder),
        plots.at_init(init_table, folder),
        plots.trained(per_budget, cfg, folder),
    ]
    on_edge = {(c[0], c[1]) for c in cells(cfg) if c[3] != "dense" and choices[c].on_edge}
    claims = _claims(construction, init_table, per_budget, smallest, cfg, on_edge, (paper_per_budget, paper_smallest))
    summary = Summary(
        name="expressivity",
        title="Appendix D: depth against width (exact pieces, pieces at initialisation, trained fits)",
        figures=[f"expressivity/{f}" for f in figures],
        data=[
            f"expressivity/{f}"
            for f in (
                "construction.csv",
                "init_pieces.csv",
                "init_summary.csv",
                "chosen_rates.csv",
                "tuning_runs.csv",
                "trained_runs.csv",
                "trained_summary.csv",
                "trained_smallest_budget.csv",
                "trained_runs_paper_rate.csv",
                "trained_summary_paper_rate.csv",
            )
        ],
        claims=claims,
        tables={
            "Smallest budget reaching the target error (each family at its tuned rate)": smallest,
            "Smallest budget reaching the target error (every family at the paper's rate)": paper_smallest,
            "Chosen rates": chosen,
            "Pieces at initialisation": init_table,
        },
        config=asdict(cfg) | {"trainer": asdict(tcfg), "error_threshold": cfg.error_threshold},
        seconds=time.perf_counter() - t0,
    )
    write_json(folder / "summary.json", summary)
    return summary
