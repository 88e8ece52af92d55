"""The Section 6.2 sweep at each family's tuned rate: the cells, their groups, the choice of rates
on a validation split, and the rows of each reading.

A cell is one family at one ``k`` (``("deep", 4)``, ``("wide", 4)``) or the dense baseline
(``("dense", None)``). Its rate is chosen by the rule of `dlor.experiments._tuning`: 20% of the
training points are held out, the cell trains on the rest at every rate of the grid for the tuning
budget, and the lowest median MSE on the held-out points wins. The test points take no part.

The fresh seeds then train on the whole training set at the chosen rate, a group of their own
(named with its rate) beside the cell's paper-rate group. Where the chosen rate is the paper's
5e-3, the tuned reading reads the paper-rate group's first seeds instead of training them again.
A model's row carries its rate (``lr``; none: the paper's), which says the reading it belongs to.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from ...train import GroupSpec, TrainConfig
from .._context import RunContext
from .._sweep import validation_scorer
from .._tuning import Choice, tune

PAPER_RATE = TrainConfig.lr  # Appendix H.2: Adam at 0.005, every family
BASELINE_WIDTHS = [1, 16, 16, 1]  # the dense baseline of Figure 4: two hidden layers of 16


def at_rate(rate: float, other: float = PAPER_RATE) -> bool:
    """Whether two learning rates are the same (up to float rounding)."""
    return math.isclose(rate, other, rel_tol=1e-9)


def cells(cfg) -> list[tuple]:
    """Every tuned cell of the sweep ``cfg``: ``(family, k)``, and ``("dense", None)`` for the baseline."""
    return [(arch, k) for arch in ("deep", "wide") for k in cfg.ks] + [("dense", None)]


def cell_group(cfg, cell: tuple, seeds: list[int], lrs: list[float] | None, tag: str = "", **extra) -> GroupSpec:
    """The group of one cell: one model per entry of ``seeds``, at the rates ``lrs`` (None: every
    model at the paper's rate); ``extra`` goes into every member's row (``validation`` into its
    data: see ``_sweep.group_data``)."""
    arch, k = cell
    members = [{"split": cfg.split, "split_seed": cfg.split_seed} | extra for _ in seeds]
    if arch == "dense":
        tag = "baseline" + (f"_{tag}" if tag else "")
        return GroupSpec("dense", None, BASELINE_WIDTHS, seeds, tag=tag, member_extra=members, lrs=lrs)
    return GroupSpec(arch, k, None, seeds, tag=tag, inits=[cfg.init] * len(seeds), member_extra=members, lrs=lrs)


def tuned_group(cfg, cell: tuple, choice: Choice) -> GroupSpec | None:
    """The fresh seeds of ``cell`` at its chosen rate, or None when that is the paper's rate (the
    paper-rate group then serves both readings). The name carries the rate, so a run that chose
    another never reads these results."""
    if at_rate(choice.rate):
        return None
    seeds = list(range(cfg.tuned_seeds))
    return cell_group(cfg, cell, seeds, [choice.rate] * len(seeds), tag=f"lr{choice.rate:.3g}")


def choose_rates(cfg, tcfg: TrainConfig, runs: Path, ctx: RunContext) -> tuple[dict, list[dict]]:
    """Each cell's rate, chosen on a validation split of its training points at the tuning budget;
    every tuning group is a finished-run file under ``runs`` (an interrupted study resumes).
    Returns the choices and every tuning run's row."""
    seeds = [cfg.tuning_seed + s for s in range(cfg.tuning_seeds)]
    tune_cfg = replace(
        tcfg,
        epochs=cfg.tuning_epochs,
        eval_epochs=(),
        checkpoint_every=max(cfg.tuning_epochs // 5, 1),
        compile=cfg.compile and cfg.tuning_compile,
    )
    rows: list[dict] = []

    def group(cell: tuple, members: list[int], lrs: list[float], tag: str) -> GroupSpec:
        return cell_group(cfg, cell, members, lrs, tag=tag, validation=cfg.validation_fraction)

    train = {"workers": cfg.workers, "progress": ctx.progress, "device": cfg.device}
    score = validation_scorer(runs, group, seeds, tune_cfg, cfg.dtype, rows, **train)
    return tune(cells(cfg), cfg.rates, score, higher_is_better=False), rows


def reading_rows(rows: list[dict], choices: dict[tuple, Choice] | None, tuned_seeds: int) -> dict[str, list[dict]]:
    """The sweep's rows of each reading: ``paper-rate`` (every model at 5e-3, the parameter-matched
    dense models included) and, with ``choices``, ``tuned`` (each cell's first ``tuned_seeds``
    models at its chosen rate). The tuned reading leaves out a k at which deep's or wide's best
    rate stays on an edge of its grid (both families, since they are compared at each k), and the
    dense baseline when its does."""
    at = lambda r, rate: at_rate(r.get("lr", PAPER_RATE), rate)  # noqa: E731
    out = {"paper-rate": [r for r in rows if at(r, PAPER_RATE)]}
    if choices is None:
        return out
    edge_ks = {k for (arch, k), c in choices.items() if arch != "dense" and c.on_edge}

    def judged(r: dict) -> bool:
        cell = (r["arch"], r.get("k"))
        if "matched_k" in r or cell not in choices or not at(r, choices[cell].rate) or r["seed"] >= tuned_seeds:
            return False
        return not choices[cell].on_edge if r["arch"] == "dense" else r["k"] not in edge_ks

    out["tuned"] = [r for r in rows if judged(r)]
    return out


def chosen_table(choices: dict[tuple, Choice]) -> list[dict]:
    """One row per cell: its chosen rate, whether it stays on an edge, the grid it was chosen on."""
    return [{"family": c[0], "k": c[1]} | choice.row() for c, choice in choices.items()]
