"""Each variant at its own learning rate, chosen on a validation split: the sweep, the extension
of the grid past an edge, and the choice, shared by the experiments that compare variants.

The rule, for every cell (a variant at one size, activation, ...):

1. Carve a validation subset out of the training set (``validation_split``: a fixed fraction,
   fixed per split seed); the test points take no part.
2. Train the cell at every rate of a log-spaced grid, on the rest of the training set, and score
   it on the validation subset at the end of the budget: the median over the tuning seeds of the
   score (validation MSE, lower is better; or accuracy, higher is better).
3. When the best rate sits on an edge of the grid, add the next rate beyond that edge (the grid's
   own spacing) and score it; at most ``max_extensions`` times. A cell whose best rate is still
   on an edge is marked ``on_edge`` and its comparisons are not judged.
4. Retrain at the chosen rate on the full training set with fresh seeds (the experiment's job).

``tune`` asks for the scores of a whole batch of (cell, rate) pairs at once, so that an experiment
can train a grid of rates as one batch (the vectorized trainer's ``GroupSpec.lrs``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .._errors import DLoRError

__all__ = ["Choice", "log_grid", "validation_split", "tune", "MAX_EXTENSIONS"]

MAX_EXTENSIONS = 3


def log_grid(center: float = 5e-3, points: int = 5, decades: float = 2.0) -> tuple[float, ...]:
    """``points`` rates spaced evenly in log over ``decades`` decades around ``center``
    (5 points over 2 decades around 5e-3: 5e-4, 1.58e-3, 5e-3, 1.58e-2, 5e-2)."""
    if points < 2 or not (center > 0 and decades > 0):
        raise DLoRError(f"a rate grid needs >= 2 points, a positive center and span, got {points}, {center}, {decades}")
    exps = np.linspace(-decades / 2, decades / 2, points)
    return tuple(float(center * 10.0**e) for e in exps)


def validation_split(n: int, fraction: float = 0.2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(fit, validation)`` of ``n`` training points: a random ``fraction`` of them
    (at least one, fixed by ``seed``) held out for choosing rates."""
    if not 0 < fraction < 1 or n < 2:
        raise DLoRError(f"a validation split needs 0 < fraction < 1 and n >= 2, got {fraction} and {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    k = min(max(1, round(fraction * n)), n - 1)
    return perm[k:].sort().values, perm[:k].sort().values


@dataclass
class Choice:
    """The rate chosen for one cell, with the scores it was chosen from."""

    rate: float
    on_edge: bool  # the best rate is still on an edge of the grid after every extension
    extensions: int
    scores: dict[float, float] = field(default_factory=dict)  # rate -> median validation score

    def row(self) -> dict:
        """A table row: the chosen rate, whether it sits on an edge, the grid it was chosen on."""
        return {
            "chosen_rate": self.rate,
            "rate_on_edge": self.on_edge,
            "grid": " ".join(f"{r:.3g}" for r in sorted(self.scores)),
            "extensions": self.extensions,
        }


def tune(
    cells: Sequence[Hashable],
    grid: Sequence[float],
    score: Callable[[list[tuple[Hashable, float]]], dict[tuple[Hashable, float], Sequence[float]]],
    higher_is_better: bool,
    max_extensions: int = MAX_EXTENSIONS,
) -> dict[Hashable, Choice]:
    """Choose a rate per cell by the rule of this module.

    Args:
        cells: the cells to tune.
        grid: the starting rates, log-spaced (sorted here).
        score: given ``[(cell, rate), ...]``, the validation scores of each pair, one per tuning
            seed (their median decides).
        higher_is_better: accuracy (True) or a loss (False).
        max_extensions: how many rates past an edge a cell may add.
    """
    rates = sorted(float(r) for r in grid)
    if len(rates) < 2 or rates[0] <= 0:
        raise DLoRError(f"a rate grid needs >= 2 positive rates, got {list(grid)}")
    step = rates[1] / rates[0]
    scores: dict[Hashable, dict[float, float]] = {c: {} for c in cells}

    def run(pairs: list[tuple[Hashable, float]]) -> None:
        got = score(pairs)
        for pair in pairs:
            values = [v if math.isfinite(v) else (-math.inf if higher_is_better else math.inf) for v in got[pair]]
            scores[pair[0]][pair[1]] = float(np.median(values))

    def best(cell) -> float:
        s = scores[cell]
        return (max if higher_is_better else min)(s, key=lambda r: (s[r], -r if higher_is_better else r))

    run([(c, r) for c in cells for r in rates])
    extensions = dict.fromkeys(cells, 0)
    while True:
        pending = []
        for c in cells:
            tried = sorted(scores[c])
            b = best(c)
            if extensions[c] < max_extensions and b in (tried[0], tried[-1]):
                pending.append((c, tried[0] / step if b == tried[0] else tried[-1] * step))
                extensions[c] += 1
        if not pending:
            break
        run(pending)
    out = {}
    for c in cells:
        tried = sorted(scores[c])
        b = best(c)
        edge = b in (tried[0], tried[-1])
        out[c] = Choice(rate=b, on_edge=edge, extensions=extensions[c], scores=dict(sorted(scores[c].items())))
    return out
