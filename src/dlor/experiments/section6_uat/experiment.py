r"""Section 6.1 / Appendix H.1: compile a trained sawtooth MLP into deep and wide DLoR networks.

Figures 2(a), 2(b), 3(a), 3(b). The dense MLP (1 -> 16 -> 16 -> 16 -> 16 -> 1, softplus) is
trained with Adam (lr 0.01, 2000 epochs, MSE) from ``candidates`` seeds at once (the vectorized
trainer, float64), and the one with the lowest *training* MSE is kept: the paper reports one
MLP and not its seed, and Section 6.1 needs an MLP that approximates the sawtooth before
anything is compiled from it. Whether it does is a verdict with a stated threshold
(``approximates_mse``). Its three 16 x 16 hidden layers are compiled with rank 6 and c = 0.5:

* paper-faithful: the literal Appendix C.3 decomposition (random basis), alpha = 0.8, the
  first-order scheme; deep over h = 1e-2 .. 1e-8, wide over h = 1e-1 .. 1e-6 with
  beta = (1, ..., 1, -(L - 1));
* library best: the Schur-basis decomposition with its default alpha and Richardson
  extrapolation over two chains (``order=2``), with ``h="auto"``.

Errors are max |compiled(x) - mlp(x)| over the 400 points of [-2, 2], in float64 and float32.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ...construct import max_abs_error, to_deep, to_wide
from ...train import GroupSpec, GroupTrainer, TrainConfig
from .._common import Claim, Summary, check_budget, check_positive_ints, plt, save_figure, write_csv, write_json
from .._context import RunContext, with_context
from .._data import TARGET_VARIANCE, check_split, sawtooth_data
from .._summary import wording


@dataclass(frozen=True)
class UATConfig:
    """Appendix H.1 settings. H.1 is cheap: the quick budget is the paper budget."""

    budget: str = "paper"
    epochs: int = 2000  # Adam epochs for the dense MLP
    lr: float = 0.01
    width: int = 16
    hidden: int = 4  # 1 -> 16, then three 16 x 16 layers
    rank: int = 6
    c: float = 0.5
    alpha: float = 0.8  # paper-faithful deep construction
    candidates: int = 5  # MLP seeds 0..candidates-1; the lowest training MSE is kept (the paper names no seed)
    # "2000 epochs" (H.1), batch size not stated: None = one full-batch step per epoch, b = shuffled
    # minibatches of b points; the same reading as the Section 6.2 sweep (SweepConfig.batch_size)
    batch_size: int | None = 32  # SweepConfig's default reading (for_budget copies it from there)
    split: str = "interleaved"  # "split evenly into the training and test dataset": see dlor.experiments._data
    split_seed: int = 0
    approximates_mse: float = 5e-3  # "the MLP approximates the sawtooth": test MSE <= 6% of its variance 1/12
    device: str = "cpu"  # where the MLP candidates train (the constructions run in float64 on the CPU)
    shrunk: str = ""  # what this budget leaves out of the paper budget (printed in the report)

    def __post_init__(self):
        from ..._errors import DLoRError
        from .._data import N_TRAIN

        TrainConfig(batch_size=self.batch_size)
        if self.batch_size is not None and self.batch_size > N_TRAIN:
            raise DLoRError(
                f"batch size {self.batch_size} exceeds the {N_TRAIN} training points of the sawtooth; "
                f"use at most {N_TRAIN}, or full batch"
            )
        check_split(self.split)
        check_budget(self.budget)
        check_positive_ints(self, ("epochs", "candidates"))

    @classmethod
    def _reading(cls) -> dict:
        from ..section6_training.experiment import SweepConfig

        sweep = SweepConfig()  # one reading of "epoch" and of the split for Sections 6.1 and 6.2
        return {"batch_size": sweep.batch_size, "split": sweep.split, "split_seed": sweep.split_seed}

    @classmethod
    def paper(cls) -> UATConfig:
        return cls(**cls._reading())

    @classmethod
    def quick(cls) -> UATConfig:
        return cls(budget="quick", **cls._reading())

    @classmethod
    def tiny(cls) -> UATConfig:
        return cls(budget="tiny", epochs=100, candidates=2, shrunk="a smoke test: 100 epochs, 2 candidate MLPs", **cls._reading())


CONFIG = UATConfig


DEEP_H = [float(x) for x in 10.0 ** np.arange(-2.0, -8.01, -0.5)]
WIDE_H = [float(x) for x in 10.0 ** np.arange(-1.0, -6.01, -0.5)]
BEST_H = [float(x) for x in 10.0 ** np.arange(-0.5, -8.01, -0.5)]


def _sequential(cfg: UATConfig) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(1, cfg.width), nn.Softplus()]
    for _ in range(cfg.hidden - 1):
        layers += [nn.Linear(cfg.width, cfg.width), nn.Softplus()]
    layers.append(nn.Linear(cfg.width, 1))
    return nn.Sequential(*layers).double()


def h1_group(cfg: UATConfig, tag: str = "h1") -> tuple[GroupSpec, TrainConfig]:
    """The H.1 MLP candidates (seeds ``0 .. cfg.candidates - 1``) as one trainer group and its settings.

    Eager, float64, one intra-op thread: the same group gives the same MLPs in any process,
    so ``dlor reproduce protocol`` (which trains this group for each reading) and Figure 2
    judge the very same MLP.
    """
    widths = [1] + [cfg.width] * cfg.hidden + [1]
    seeds = list(range(cfg.candidates))
    reading = {"split": cfg.split, "split_seed": cfg.split_seed}
    spec = GroupSpec("dense", None, widths, seeds, tag=tag, extra={"h1": True}, member_extra=[dict(reading) for _ in seeds])
    tcfg = TrainConfig(
        epochs=cfg.epochs,
        lr=cfg.lr,
        patience=10**9,
        eval_epochs=(),
        batch_size=cfg.batch_size,
        checkpoint_every=max(cfg.epochs // 2, 1),
        threads=1,
    )
    return spec, tcfg


def keep_lowest_training_mse(rows: list[dict]) -> int:
    """Index of the candidate with the lowest final training MSE (non-finite ones never win)."""
    return int(np.argmin([r["train_mse_final"] if np.isfinite(r["train_mse_final"]) else np.inf for r in rows]))


def train_mlp(cfg: UATConfig, data, progress: bool, device: str = "cpu") -> tuple[nn.Sequential, list[dict]]:
    """Train ``cfg.candidates`` MLPs on ``device`` and return the one with the lowest training MSE
    (on the CPU, where the constructions run in float64), and one row per candidate (seed,
    training and test MSE, kept or not)."""
    spec, tcfg = h1_group(cfg)
    trainer = GroupTrainer(spec, tcfg, dtype=torch.float64, device=device)
    bar = tqdm(total=cfg.epochs, desc="uat: training the dense MLPs", disable=not progress, leave=False)
    rows = trainer.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"], on_epoch=bar.update)
    bar.close()
    best = keep_lowest_training_mse(rows)
    candidates = [
        {"seed": r["seed"], "train_mse": r["train_mse_final"], "test_mse": r["test_mse_final"], "kept": i == best}
        for i, r in enumerate(rows)
    ]
    mlp = _sequential(cfg)
    P = trainer.params()
    with torch.no_grad():  # nn.Sequential's parameters in the order of MLP's (Linear weight, bias, ...)
        for p, name in zip(mlp.parameters(), P, strict=True):
            p.copy_(P[name][best].cpu())
    return mlp, candidates


def run(cfg: UATConfig, out: Path, ctx: RunContext) -> Summary:
    """Train the H.1 MLP, compile it over the h grids, write Figures 2(a,b), 3(a,b) and the claims."""
    cfg = with_context(cfg, ctx)
    progress, device = ctx.progress, cfg.device
    t0 = time.perf_counter()
    folder = Path(out) / "uat"
    data = sawtooth_data(split=cfg.split, seed=cfg.split_seed)
    mlp, candidates = train_mlp(cfg, data, progress, device)
    X = data["x_all"]
    with torch.no_grad():
        mlp_test_mse = float(nn.functional.mse_loss(mlp(data["x_test"]), data["y_test"]))
    rows = []
    curves = {}
    tables = []
    for dtype in (torch.float64, torch.float32):
        ref = mlp.to(dtype)
        Xd = X.to(dtype)
        dname = str(dtype).replace("torch.", "")
        schemes = {
            ("deep", "paper"): (
                DEEP_H,
                lambda h, ref=ref: to_deep(ref, cfg.rank, h, c=cfg.c, alpha=cfg.alpha, decomposition="paper", order=1),
            ),
            ("wide", "paper"): (WIDE_H, lambda h, ref=ref: to_wide(ref, cfg.rank, h, c=cfg.c, order=1)),
            ("deep", "best"): (BEST_H, lambda h, ref=ref: to_deep(ref, cfg.rank, h, c=cfg.c, order=2)),
            ("wide", "best"): (BEST_H, lambda h, ref=ref: to_wide(ref, cfg.rank, h, c=cfg.c, order=2)),
        }
        for (arch, scheme), (grid, build) in tqdm(
            list(schemes.items()), desc=f"uat: h sweeps ({dname})", disable=not progress, leave=False
        ):
            errs = []
            for h in grid:
                err = max_abs_error(build(h), ref, Xd)
                errs.append(err)
                rows.append({"dtype": dname, "arch": arch, "scheme": scheme, "h": h, "max_abs_error": err})
            curves[(dname, arch, scheme)] = (grid, errs)
            best_i = int(np.nanargmin(errs))
            entry = {"dtype": dname, "arch": arch, "scheme": scheme, "best_h": grid[best_i], "best_error": errs[best_i]}
            if scheme == "best":
                builder = to_deep if arch == "deep" else to_wide
                auto = builder(ref, cfg.rank, "auto", c=cfg.c, order=2, sample=Xd)
                entry |= {"auto_h": auto.h, "auto_error": max_abs_error(auto, ref, Xd)}
            tables.append(entry)
    mlp = mlp.double()
    write_csv(folder / "uat_errors_vs_h.csv", rows)
    write_csv(folder / "uat_best_errors.csv", tables)
    _plot_errors(curves, "deep", folder / "fig2a_deep_error_vs_h.png")
    _plot_errors(curves, "wide", folder / "fig3a_wide_error_vs_h.png")
    _plot_outputs(mlp, cfg, data, "deep", folder / "fig2b_deep_outputs.png")
    _plot_outputs(mlp, cfg, data, "wide", folder / "fig3b_wide_outputs.png")
    with torch.no_grad():  # the paper-faithful constructions at their best h, on the sawtooth's test set
        constructed = {
            arch: float(
                nn.functional.mse_loss(
                    (
                        to_deep(mlp, cfg.rank, best_h, c=cfg.c, alpha=cfg.alpha, decomposition="paper", order=1)
                        if arch == "deep"
                        else to_wide(mlp, cfg.rank, best_h, c=cfg.c, order=1)
                    )(data["x_test"]),
                    data["y_test"],
                )
            )
            for arch, best_h in ((a, _best(tables, "float64", a, "paper")["best_h"]) for a in ("deep", "wide"))
        }
    claims = _claims(curves, tables, mlp_test_mse, constructed, cfg, candidates)
    summary = Summary(
        name="uat",
        title="Figures 2(a,b) and 3(a,b): compiling a trained sawtooth MLP into deep and wide DLoR networks",
        figures=[
            "uat/fig2a_deep_error_vs_h.png",
            "uat/fig2b_deep_outputs.png",
            "uat/fig3a_wide_error_vs_h.png",
            "uat/fig3b_wide_outputs.png",
        ],
        data=["uat/uat_errors_vs_h.csv", "uat/uat_best_errors.csv", "uat/summary.json"],
        claims=claims,
        tables={"best max-abs error over h": tables, "H.1 MLP candidates (the lowest training MSE is kept)": candidates},
        config=asdict(cfg) | {"mlp_test_mse": mlp_test_mse, "seeds": cfg.candidates, "constructed_test_mse": constructed},
        seconds=time.perf_counter() - t0,
    )
    write_json(folder / "summary.json", summary)
    return summary


def _best(tables, dtype, arch, scheme):
    return next(t for t in tables if t["dtype"] == dtype and t["arch"] == arch and t["scheme"] == scheme)


def _decreasing_decades(grid, errs) -> float:
    """How many decades of h, from the largest, the error keeps decreasing over."""
    k = 0
    while k + 1 < len(errs) and errs[k + 1] < errs[k]:
        k += 1
    return float(np.log10(grid[0] / grid[k])) if k else 0.0


@wording("uat.error-to-zero")
def _error_to_zero_words(first: float, first_h: float, decades: float, lowest: float) -> str:
    return (
        f"paper-faithful float64: error falls from {float(first):.2e} at h={float(first_h):.0e} over {float(decades):.1f} "
        f"decades to {float(lowest):.2e} (then rounding takes over)"
    )


@wording("uat.best-vs-paper")
def _best_vs_paper_words(best: float, paper: float, auto: float) -> str:
    best, paper, auto = float(best), float(paper), float(auto)
    return (
        f"best error {best:.2e} vs paper-faithful {paper:.2e} ({paper / best:.0f}x); "
        f"h='auto' reaches {auto:.2e} ({auto / best:.2f}x the grid best)"
    )


@wording("uat.mlp-approximates")
def _mlp_words(mse: float, seed: int, seeds: int, tests: list, threshold: float, variance: float) -> str:
    return (
        f"test MSE {float(mse):.2e} (seed {seed}, the lowest training MSE of {seeds} seeds; test MSEs "
        f"{', '.join(f'{float(v):.1e}' for v in tests)}); threshold {threshold:g}, target variance {variance:.3f}"
    )


@wording("uat.constructions")
def _constructions_words(deep: float, wide: float, mlp: float, threshold: float, approximates: bool) -> str:
    return (
        f"paper-faithful constructions at their best h: test MSE deep {float(deep):.2e}, wide {float(wide):.2e} "
        f"(MLP {float(mlp):.2e}); threshold {threshold:g}"
        + ("" if approximates else "; not judged: the MLP itself does not approximate the sawtooth")
    )


def _claims(curves, tables, mlp_mse, constructed, cfg, candidates):
    claims = []
    for arch, fig in (("deep", "Figure 2(a), Theorem 5"), ("wide", "Figure 3(a), Theorem 6")):
        grid, errs = curves[("float64", arch, "paper")]
        dec = _decreasing_decades(grid, errs)
        claims.append(
            Claim.stated(
                f"The {arch} construction's max-abs error to the dense MLP goes to 0 as h -> 0",
                fig,
                "uat.error-to-zero",
                {"first": errs[0], "first_h": grid[0], "decades": dec, "lowest": min(errs)},
                "confirmed" if dec >= 3 else ("partially confirmed" if dec >= 1 else "not confirmed"),
                id=f"uat.{arch}-error-to-zero",
                evidence={"h values": len(grid)},
            )
        )
        paper, best = _best(tables, "float64", arch, "paper"), _best(tables, "float64", arch, "best")
        ratio = paper["best_error"] / best["best_error"]
        claims.append(
            Claim.stated(
                f"Library goal: the best option (Schur basis + Richardson) beats the paper-faithful {arch} scheme by >= 10x",
                "library goal (beyond the paper)",
                "uat.best-vs-paper",
                {"best": best["best_error"], "paper": paper["best_error"], "auto": best["auto_error"]},
                "confirmed" if ratio >= 10 and best["auto_error"] <= 3 * best["best_error"] else "not confirmed",
                id=f"uat.{arch}-best-beats-paper",
                evidence={"h values": len(grid)},
            )
        )
    kept = next(c for c in candidates if c["kept"])
    approximates = mlp_mse <= cfg.approximates_mse
    claims.append(
        Claim.stated(
            "The trained H.1 MLP approximates the sawtooth (the premise of Figures 2(b), 3(b))",
            "Section 6.1, Appendix H.1",
            "uat.mlp-approximates",
            {
                "mse": mlp_mse,
                "seed": kept["seed"],
                "seeds": len(candidates),
                "tests": [c["test_mse"] for c in candidates],
                "threshold": cfg.approximates_mse,
                "variance": TARGET_VARIANCE,
            },
            "confirmed" if approximates else "not confirmed",
            id="uat.mlp-approximates",
            evidence={"seeds": len(candidates)},
        )
    )
    worst = max(constructed.values())
    claims.append(
        Claim.stated(
            "Once the MLP approximates the sawtooth, the constructed networks approximate it too",
            "Figures 2(b), 3(b)",
            "uat.constructions",
            {
                "deep": constructed["deep"],
                "wide": constructed["wide"],
                "mlp": mlp_mse,
                "threshold": cfg.approximates_mse,
                "approximates": bool(approximates),
            },
            ("confirmed" if worst <= cfg.approximates_mse else "not confirmed") if approximates else "not judged",
            id="uat.constructions-approximate",
            evidence={"trained MLPs": 1, "constructions": len(constructed)},
        )
    )
    return claims


def _plot_errors(curves, arch, path):
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    styles = {"paper": ("o-", "paper-faithful (literal C.3, first order)"), "best": ("s--", "library best (Schur + Richardson)")}
    for (dname, a, scheme), (grid, errs) in curves.items():
        if a != arch:
            continue
        marker, label = styles[scheme]
        ax.loglog(grid, np.maximum(errs, 1e-17), marker, label=f"{label}, {dname}", alpha=0.9 if dname == "float64" else 0.5)
    ax.set_xlabel("h")
    ax.set_ylabel("max |DLoR(x) - MLP(x)| on [-2, 2]")
    ax.set_title(f"{arch} construction: error to the dense MLP")
    ax.invert_xaxis()
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def _plot_outputs(mlp, cfg, data, arch, path):
    X = torch.linspace(-2, 2, 801, dtype=torch.float64)[:, None]
    fig, ax = plt.subplots(figsize=(7, 4.4))
    ax.plot(data["x_all"][:, 0], data["y_all"][:, 0], color="0.75", lw=4, label="sawtooth target")
    with torch.no_grad():
        ax.plot(X[:, 0], mlp(X)[:, 0], "k-", lw=1.5, label="dense MLP")
        hs = [1e-4, 1e-6, 1e-8] if arch == "deep" else [1e-1, 1e-2, 1e-4]
        for h in hs:
            net = (
                to_deep(mlp, cfg.rank, h, c=cfg.c, alpha=cfg.alpha, decomposition="paper", order=1)
                if arch == "deep"
                else to_wide(mlp, cfg.rank, h, c=cfg.c, order=1)
            )
            ax.plot(X[:, 0], net(X)[:, 0], "--", lw=1, label=f"{arch} DLoR, h = {h:g}")
    ax.set_xlabel("x")
    ax.set_ylabel("output")
    ax.set_ylim(-0.5, 1.5)
    ax.set_title(f"{arch} DLoR networks (paper-faithful) converge to the MLP as h -> 0")
    ax.legend(fontsize=7)
    save_figure(fig, path)
