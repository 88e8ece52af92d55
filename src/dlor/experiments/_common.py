"""Shared plumbing for the experiments: output folders, CSV/JSON/PNG writers (and the summaries of ``_summary``)."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, is_dataclass
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # headless: experiments only write files
import matplotlib.pyplot as plt  # noqa: E402

from .._files import replace_atomically, set_aside
from . import _ranks as ranks
from ._summary import BUDGETS, Claim, Summary, check_budget, check_positive_ints

__all__ = [
    "BUDGETS",
    "Claim",
    "Summary",
    "check_budget",
    "check_positive_ints",
    "plt",
    "save_figure",
    "write_csv",
    "write_json",
    "read_json_checked",
]


def _clean(obj):
    if is_dataclass(obj):
        return _clean(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return _clean(obj.item())
    return obj


def write_json(path: Path, obj, every_rank: bool = False) -> None:
    """Write atomically (temp file + rename), so an interrupt never leaves a torn file.

    Under ``torchrun`` only rank 0 writes results; ``every_rank`` is for the files each rank
    owns (its groups' results)."""
    if not (every_rank or ranks.is_main()):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, lambda tmp: tmp.write_text(json.dumps(_clean(obj), indent=2)))


def read_json_checked(path: Path, valid=lambda obj: True):
    """The JSON in ``path``, or None when it is missing, torn or fails ``valid`` (which returns
    True, or False or a reason, a ``str``, that the note names); a torn or invalid file is set
    aside (``set_aside``; by rank 0 only under torchrun) so that nothing reads it again."""
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        why = f"{type(err).__name__}: {err}"
    else:
        verdict = valid(obj)
        if verdict and not isinstance(verdict, str):
            return obj
        # a validator may say why (a str): e.g. a whole file written under other settings
        why = verdict if isinstance(verdict, str) and verdict else "unexpected content"
    if ranks.is_main():
        set_aside(path, why)
    return None


def write_csv(path: Path, rows: list[dict]) -> None:
    if not ranks.is_main():  # under torchrun rank 0 writes the results
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)

    replace_atomically(path, write)


def save_figure(fig, path: Path) -> None:
    if not ranks.is_main():  # under torchrun rank 0 writes the results
        plt.close(fig)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        replace_atomically(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
    finally:
        plt.close(fig)


def median_iqr(values) -> tuple[float, float, float]:
    """Median, 25th and 75th percentile of the finite values (NaN when there are none)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return (math.nan,) * 3
    return float(np.median(v)), float(np.percentile(v, 25)), float(np.percentile(v, 75))
