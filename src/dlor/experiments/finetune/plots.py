"""The figures of ``dlor reproduce finetune``: target loss against learning rate (one panel per
method) and against trainable parameters."""

from __future__ import annotations

import math
from pathlib import Path

from .._common import plt, save_figure
from .data import SHIFT
from .methods import METHODS

COLOURS = {"full": "#444444", "lora": "#1f77b4", "dora": "#2ca02c", "dlor": "#d62728"}
MARKERS = {"prose": "o", "code": "s"}


def rate_sweeps(sweep: list[dict], cfg, path: Path) -> None:
    """Validation loss against learning rate, one panel per trained method, a line per (target, rank)."""
    methods = [m for m in METHODS if m != "none"]
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 3.2), sharey=True)
    for ax, m in zip(axes, methods, strict=True):
        for target in cfg.targets:
            for r in sorted({s["rank"] for s in sweep if s["method"] == m}):
                pts = sorted(
                    (s["lr"], s["val_loss"])
                    for s in sweep
                    if (s["target"], s["method"], s["rank"]) == (target, m, r)
                    and s["finite"]
                    and s["val_loss"] is not None
                    and math.isfinite(s["val_loss"])
                )
                if pts:
                    label = f"{target}" + (f", r={r}" if r else "")
                    ax.plot(
                        *zip(*pts, strict=True),
                        marker=MARKERS[target],
                        label=label,
                        color=COLOURS[m],
                        alpha=0.5 + 0.5 * (r == max(cfg.ranks) or not r),
                    )
        ax.set_xscale("log")
        ax.set_title(m)
        ax.set_xlabel("learning rate")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("validation loss (nats/byte)")
    fig.tight_layout()
    save_figure(fig, path)


def loss_vs_params(table: list[dict], cfg, path: Path) -> None:
    """Test loss (median, IQR bars) against trainable parameters, one panel per target."""
    fig, axes = plt.subplots(1, len(cfg.targets), figsize=(4.2 * len(cfg.targets), 3.4), squeeze=False)
    for ax, target in zip(axes[0], cfg.targets, strict=True):
        rows = [t for t in table if t["target"] == target]
        for t in rows:
            if t["method"] == "none":
                ax.axhline(t["test_median"], color="#999999", ls="--", lw=1, label="no fine-tuning")
                continue
            x = max(t["trainable"], 1)
            err = [[t["test_median"] - t["test_q25"]], [t["test_q75"] - t["test_median"]]]
            ax.errorbar(
                [x],
                [t["test_median"]],
                yerr=err,
                fmt="o",
                color=COLOURS[t["method"]],
                capsize=3,
                label=t["method"] if t["rank"] in (0, max(cfg.ranks)) else None,
            )
        ax.set_xscale("log")
        ax.set_title(f"{target} ({SHIFT[target]} shift)")
        ax.set_xlabel("trainable parameters")
        ax.set_ylabel("test loss (nats/byte)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
