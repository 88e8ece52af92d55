"""The figures of the depth-against-width study."""

from __future__ import annotations

from pathlib import Path

from matplotlib.ticker import NullFormatter

from .._common import plt, save_figure

COLOURS = {"deep": "tab:blue", "wide": "tab:orange", "dense": "tab:gray"}


def _finish(fig, ax, xlabel: str, ylabel: str, title: str, path: Path) -> str:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    save_figure(fig, path)
    return path.name


def construction(rows: list[dict], folder: Path) -> str:
    """Parameters needed for ``2^L`` pieces against ``L``: the deep construction and the smallest wide network."""
    L = [r["L"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(L, [r["deep_params"] for r in rows], "o-", color=COLOURS["deep"], label="deep DLoR (construction, 7L + 7)")
    ax.plot(
        L, [r["wide_min_params"] for r in rows], "s-", color=COLOURS["wide"], label="wide DLoR (fewest the piece bound allows)"
    )
    ax.set_yscale("log")
    return _finish(
        fig,
        ax,
        "L (the target has 2^L linear pieces)",
        "parameters",
        "Parameters needed for 2^L linear pieces",
        folder / "expressivity_construction.png",
    )


def at_init(table: list[dict], folder: Path) -> str:
    """Pieces at initialisation against parameters (median and IQR over seeds), per family."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for family, colour in COLOURS.items():
        sel = sorted((t for t in table if t["family"] == family), key=lambda t: t["params"])
        if not sel:
            continue
        x = [t["params"] for t in sel]
        med = [t["pieces_median"] for t in sel]
        err = [
            [m - t["pieces_q1"] for m, t in zip(med, sel, strict=True)],
            [t["pieces_q3"] - m for m, t in zip(med, sel, strict=True)],
        ]
        ax.errorbar(x, med, yerr=err, fmt="o", color=colour, capsize=3, label=family)
    ax.set_xscale("log")
    ax.set_yscale("log")
    return _finish(
        fig,
        ax,
        "parameters",
        "linear pieces on [-2, 2] (median, IQR)",
        "ReLU networks at initialisation",
        folder / "expressivity_init.png",
    )


def trained(per_budget: list[dict], cfg, folder: Path) -> str:
    """Test MSE against parameters after training, a panel per frequency, a line per family and activation."""
    freqs = list(cfg.frequencies)
    fig, axes = plt.subplots(1, len(freqs), figsize=(4.2 * len(freqs), 3.8), squeeze=False)
    styles = {"relu": "-", "softplus": "--"}
    for ax, freq in zip(axes[0], freqs, strict=True):
        for family, colour in COLOURS.items():
            for act in cfg.activations:
                sel = sorted(
                    (p for p in per_budget if p["frequency"] == freq and p["family"] == family and p["activation"] == act),
                    key=lambda p: p["params"],
                )
                if sel:
                    ax.plot(
                        [p["params"] for p in sel],
                        [p["test_mse_median"] for p in sel],
                        "o" + styles[act],
                        color=colour,
                        label=f"{family}, {act}",
                    )
        ax.axhline(cfg.error_threshold, color="k", lw=0.8, ls=":", label="target error")
        ax.axhline(1 / 12, color="tab:red", lw=0.8, ls=":", label="trivial predictor")
        ax.set_xscale("log")
        ax.set_yscale("log")
        budgets = sorted({p["params"] for p in per_budget if p["family"] == "deep"})
        ax.set_xticks(budgets, [str(b) for b in budgets])  # the budgets' parameter counts (deep)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"sawtooth, lambda = {freq:g}")
        ax.set_xlabel("parameters")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("test MSE (median over seeds)")
    axes[0][-1].legend(fontsize=7)
    save_figure(fig, folder / "expressivity_trained.png")
    return "expressivity_trained.png"
