"""The figures of ``dlor reproduce lm``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .._common import plt, save_figure

COLOURS = {"dense": "tab:gray", "lowrank": "tab:red", "dlor": "tab:blue", "sparse+lowrank": "tab:green"}


def lr_sweep(rows: list[dict], widths, path: Path) -> None:
    """Validation loss against the learning rate (tuning seed), one line per variant, a panel per size."""
    fig, axes = plt.subplots(1, len(widths), figsize=(4.2 * len(widths), 3.6), squeeze=False, sharey=True)
    for ax, w in zip(axes[0], widths, strict=True):
        for v, colour in COLOURS.items():
            sel = sorted(
                (r for r in rows if r["width"] == w and r["variant"] == v and r["default_reading"]), key=lambda r: r["lr"]
            )
            if not sel:
                continue
            x = [r["lr"] for r in sel]
            y = [np.nan if r["val_nats"] is None else r["val_nats"] for r in sel]
            ax.plot(x, y, "o-", ms=4, color=colour, label=v)
            i = int(np.nanargmin(y)) if not all(math.isnan(t) for t in y) else None
            if i is not None:
                ax.plot([x[i]], [y[i]], "*", ms=12, color=colour)
            for xd in (r["lr"] for r in sel if r["val_nats"] is None):
                ax.axvline(xd, color=colour, ls=":", lw=1)
        _panel(ax, f"width {w}", "peak learning rate")
    axes[0][0].set_ylabel("validation loss (nats/byte, tuning seed)")
    fig.suptitle("Learning-rate sweep (star: best rate; dotted: diverged)", fontsize=10)
    save_figure(fig, path)


def _panel(ax, title: str, xlabel: str) -> None:
    """A panel with a logarithmic x axis, its title, grid and legend."""
    ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def size_trend(table: list[dict], fits: list[dict], path: Path) -> None:
    """Validation loss against parameters on log-log axes, with the fitted power law per variant."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    fit = {f["variant"]: f for f in fits}
    for v, colour in COLOURS.items():
        sel = sorted((t for t in table if t["variant"] == v and math.isfinite(t["val_nats_median"])), key=lambda t: t["params"])
        if not sel:
            continue
        x = np.array([t["params"] for t in sel], dtype=float)
        y = np.array([t["val_nats_median"] for t in sel])
        err = [[t["val_nats_median"] - t["val_nats_q25"] for t in sel], [t["val_nats_q75"] - t["val_nats_median"] for t in sel]]
        ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, color=colour, label=v)
        if v in fit:
            grid = np.geomspace(x.min(), x.max(), 50)
            f = fit[v]
            ax.plot(
                grid,
                f["a"] * grid ** (-f["exponent_b"]),
                "-",
                color=colour,
                alpha=0.7,
                label=f"{v} fit: {f['a']:.2f} N^-{f['exponent_b']:.3f}",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters N (whole model)")
    ax.set_ylabel("validation loss (nats/byte; median, IQR)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def reading_effects(effects: list[dict], path: Path) -> None:
    """How each reading choice moves low-rank minus DLoR (mean over the other choices)."""
    fig, ax = plt.subplots(figsize=(6.4, 0.6 + 0.7 * max(1, len(effects))))
    y = np.arange(len(effects))
    vals = [e["effect_b_minus_a"] for e in effects]
    ax.barh(y, vals, color=["tab:blue" if v > 0 else "tab:red" for v in vals])
    ax.set_yticks(y, [f"{e['factor']}: {e['choice_a']} -> {e['choice_b']}" for e in effects], fontsize=8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("change in low-rank minus DLoR (nats/byte; > 0 favours DLoR)")
    ax.grid(True, axis="x", alpha=0.3)
    save_figure(fig, path)


GAP_LINES = (("lowrank_minus_dlor", "tab:red", "low-rank - DLoR"), ("dense_minus_dlor", "tab:gray", "dense - DLoR"))


def length_trend(gaps: list[dict], fits: list[dict], path: Path) -> None:
    """Low-rank minus DLoR and dense minus DLoR against tokens per parameter, a panel per width,
    with each gap's least-squares line in log10(tokens) and the seeds' IQR as a band."""
    widths = list(dict.fromkeys(g["width"] for g in gaps))
    fig, axes = plt.subplots(1, len(widths), figsize=(4.6 * len(widths), 3.8), squeeze=False, sharey=True)
    fit = {(f["width"], f["gap"]): f for f in fits}
    for ax, w in zip(axes[0], widths, strict=True):
        sel = [g for g in gaps if g["width"] == w]
        x = np.array([g["tokens_per_param"] for g in sel], dtype=float)
        ax.fill_between(x, 0, [g["iqr"] for g in sel], color="tab:red", alpha=0.12, label="IQR (low-rank, DLoR)")
        for key, colour, name in (
            ("lowrank_minus_dlor", "tab:red", "low-rank - DLoR"),
            ("dense_minus_dlor", "tab:gray", "dense - DLoR"),
        ):
            ax.plot(x, [g[key] for g in sel], "o", color=colour, label=name)
            edge = [g for g in sel if g["rate_on_edge"]]
            ax.plot([g["tokens_per_param"] for g in edge], [g[key] for g in edge], "x", ms=10, color="k")
            if (w, key) in fit:
                f = fit[(w, key)]
                grid = np.geomspace(x.min(), x.max(), 30)
                ax.plot(grid, f["a"] + f["per_decade"] * np.log10(grid), "-", color=colour, alpha=0.6)
        ax.axhline(0, color="k", lw=0.8)
        _panel(ax, f"width {w}", "training tokens per parameter")
    axes[0][0].set_ylabel("gap to DLoR (nats/byte; > 0: DLoR lower)")
    fig.suptitle("Alpha I's advantage against training length (x: a best rate on an edge of its grid)", fontsize=10)
    save_figure(fig, path)
