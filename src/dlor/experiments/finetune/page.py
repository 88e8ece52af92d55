"""The page of ``dlor reproduce finetune``: the text is the experiment module's docstring; every
number, table and figure comes from the run folder (``summary.json`` and the drift and decoupled
CSVs, summarised here as medians over their seeds)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .._page import docstring_markdown, g, standard_page, table
from . import decoupled, drift, experiment


def _rows(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _median(values: list[str]) -> str:
    numbers = [float(v) for v in values if v not in ("", "None")]
    return g(float(np.median(numbers)), 4) if numbers else ""


def _drift_section(folder: Path) -> list[str]:
    rows = _rows(folder / "finetune_drift.csv")
    out = []
    for key in dict.fromkeys((r["reading"], r["train_beta"], r["train_bias"]) for r in rows):
        sel = [r for r in rows if (r["reading"], r["train_beta"], r["train_bias"]) == key]
        out.append(
            {
                "reading": "sum beta = 0" if key[0] == "zero_sum" else "sum beta != 0, offset folded",
                "beta": "trainable" if key[1] == "True" else "frozen",
                "biases": "trainable" if key[2] == "True" else "frozen",
                "seeds": len(sel),
                "before": _median([r["drift_before"] for r in sel]),
                "after": _median([r["drift_after"] for r in sel]),
                "shift": _median([r["output_shift"] for r in sel]),
                "dbeta": _median([r["sum_beta_change"] for r in sel]),
                "test": _median([r["test_loss"] for r in sel]),
            }
        )
    return [
        "## Affine drift",
        "",
        docstring_markdown(drift.__doc__),
        "",
        "The wide form of block 0's MLP `up` projection, fine-tuned on the catastrophic target; medians over the seeds. "
        "Offset: the layer's mean output minus the dense layer's with the same current weights (rms over features), "
        "before and after fine-tuning; shift: the change of its mean output, learning included.",
        "",
        *table(
            out,
            [
                ("reading", "reading"),
                ("beta", "beta"),
                ("biases", "biases"),
                ("seeds", "seeds"),
                ("before", "offset before"),
                ("after", "offset after"),
                ("shift", "mean output shift"),
                ("dbeta", "change of sum beta"),
                ("test", "test loss (nats/byte)"),
            ],
        ),  # fmt: skip
        "",
    ]


def _decoupled_section(folder: Path) -> list[str]:
    rows = _rows(folder / "finetune_decoupled.csv")
    out = []
    for key in dict.fromkeys((r["scheme"], r["mode"]) for r in rows):
        sel = [r for r in rows if (r["scheme"], r["mode"]) == key]
        out.append(
            {
                "scheme": key[0],
                "mode": key[1],
                "seeds": len(sel),
                "lr": g(sel[0]["lr"], 3),
                "trainable": sel[0]["trainable"],
                "test": _median([r["test_loss"] for r in sel]),
                "source": _median([r["source_loss"] for r in sel]),
                "wall": _median([r["wall_seconds"] for r in sel]),
            }
        )
    return [
        "## Decoupled fine-tuning",
        "",
        docstring_markdown(decoupled.__doc__),
        "",
        "Medians over the seeds. Joint: one process trains every component; independent: two processes "
        "(`torchrun --nproc_per_node 2`) each train one component set, then the sets are combined; wall seconds "
        "of the whole run (one thread per process).",
        "",
        *table(
            out,
            [
                ("scheme", "scheme"),
                ("mode", "mode"),
                ("seeds", "seeds"),
                ("lr", "rate"),
                ("trainable", "trainable"),
                ("test", "test loss"),
                ("source", "source loss"),
                ("wall", "wall seconds"),
            ],
        ),  # fmt: skip
        "",
    ]


def page(folder: Path, out: Path) -> str:
    """The page of the run in ``folder`` (``RUN_DIR/finetune``), to be written at ``out``."""
    text = standard_page("finetune", experiment.__doc__, folder, out).rstrip() + "\n\n"
    return text + "\n".join(_drift_section(folder) + _decoupled_section(folder)).rstrip() + "\n"
