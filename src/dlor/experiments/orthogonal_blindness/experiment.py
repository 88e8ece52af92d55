r"""Figure 5: orthogonal blindness of a rank-1 hidden layer, and its cure by DLoR.

Target ``(x, y) -> x^2 + y^2`` on ``[-1, 1]^2`` (Section 3.2, Definition 2, Figure 5). Two
networks of the same width and depth are trained on the same data:

* rank-1: every hidden weight is ``u v^T`` (a ``DLoRLinear`` with ``alpha = 0`` frozen);
* DLoR: every hidden weight is ``alpha I + u v^T`` (rank 1, ``alpha`` trainable; the input
  layer is rectangular, Remark 2).

The rank-1 network sees the input only through ``v_1^T x``, so its error can never fall below
``min_v E[Var(f | v^T x)]`` ([`dlor.rank1.blindness_bound`][dlor.rank1.blindness_bound]); the DLoR network can.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ...nn import DLoRLinear
from ...rank1 import blindness_bound, conditional_variance
from .._common import Claim, Summary, check_budget, check_positive_ints, plt, save_figure, write_csv, write_json
from .._context import RunContext
from .._summary import against_bound, wording


@dataclass(frozen=True)
class Fig5Config:
    """Settings of the Figure 5 experiment (Section 3.2; the paper gives no numbers)."""

    budget: str = "paper"
    width: int = 32  # hidden width of both networks
    hidden_layers: int = 2  # depth of both networks
    n_train: int = 1000  # uniform samples on [-1, 1]^2
    n_test: int = 4000
    steps: int = 4000  # full-batch Adam steps
    lr: float = 3e-3
    seeds: int = 3
    bound_samples: int = 40000  # sample for the blindness bound

    shrunk: str = ""  # what this budget leaves out of the paper budget (printed in the report)

    def __post_init__(self):
        check_budget(self.budget)
        check_positive_ints(self, ("width", "hidden_layers", "n_train", "n_test", "steps", "seeds", "bound_samples"))

    @classmethod
    def paper(cls) -> Fig5Config:
        return cls()

    @classmethod
    def quick(cls) -> Fig5Config:
        return cls(
            budget="quick",
            steps=1500,
            seeds=1,
            bound_samples=20000,
            shrunk="1,500 Adam steps of 4,000; 1 seed of 3; 20,000 samples for the bound of 40,000",
        )

    @classmethod
    def tiny(cls) -> Fig5Config:
        return cls(
            budget="tiny",
            steps=20,
            seeds=1,
            n_train=200,
            n_test=200,
            bound_samples=2000,
            shrunk="a smoke test: 20 steps, 1 seed, 200 points",
        )


CONFIG = Fig5Config


def target(X: torch.Tensor) -> torch.Tensor:
    return X[:, 0] ** 2 + X[:, 1] ** 2


def make_network(kind: str, cfg: Fig5Config) -> nn.Module:
    """``kind`` is ``"rank1"`` (alpha frozen at 0) or ``"dlor"`` (alpha trainable)."""
    rank1 = kind == "rank1"
    layers: list[nn.Module] = []
    d_in = 2
    for _ in range(cfg.hidden_layers):
        layers += [
            DLoRLinear(d_in, cfg.width, rank=1, alpha_trainable=not rank1, alpha_init=0.0 if rank1 else 1.0),
            nn.Tanh(),
        ]
        d_in = cfg.width
    layers.append(nn.Linear(cfg.width, 1))
    return nn.Sequential(*layers).double()


def train(model: nn.Module, X: torch.Tensor, y: torch.Tensor, cfg: Fig5Config, bar=None) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for _ in range(cfg.steps):
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(X)[:, 0], y)
        loss.backward()
        opt.step()
        if bar is not None:
            bar.update(1)


def mse(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(nn.functional.mse_loss(model(X)[:, 0], y))


FIT_FACTOR = 100  # DLoR "fits" x^2 + y^2 when its test MSE is this many times below the rank-1 bound


@wording("fig5.rank1-blind")
def _blind_words(lowest: float, seeds: int, bound: float) -> str:
    lowest, bound = float(lowest), float(bound)
    return f"rank-1 test MSE {lowest:.4g} (min over {seeds} seeds) vs bound {bound:.4g} (ratio {lowest / bound:.3f})"


@wording("fig5.dlor-fits")
def _fits_words(highest: float, bound: float, factor: float) -> str:
    return (
        f"DLoR test MSE {float(highest):.3g} (max over seeds), {against_bound(highest, bound)} "
        f"(threshold: at least {factor}x below)"
    )


def run(cfg: Fig5Config, out: Path, ctx: RunContext) -> Summary:
    """Train, measure, plot; writes ``fig5/`` under ``out`` and returns the summary (on the CPU, in float64)."""
    progress = ctx.progress
    t0 = time.perf_counter()
    folder = Path(out) / "fig5"
    gen = torch.Generator().manual_seed(12345)
    X_tr = torch.rand(cfg.n_train, 2, generator=gen, dtype=torch.float64) * 2 - 1
    X_te = torch.rand(cfg.n_test, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y_tr, y_te = target(X_tr), target(X_te)
    Xb = np.random.default_rng(7).uniform(-1, 1, (cfg.bound_samples, 2))
    fb = Xb[:, 0] ** 2 + Xb[:, 1] ** 2
    bound, v_best = blindness_bound(Xb, fb)
    rows: list[dict] = []
    models: dict[str, nn.Module] = {}
    bar = tqdm(total=2 * cfg.seeds * cfg.steps, desc="fig5: training", disable=not progress, unit="step")
    for seed in range(cfg.seeds):
        for kind in ("rank1", "dlor"):
            torch.manual_seed(seed)
            model = make_network(kind, cfg)
            train(model, X_tr, y_tr, cfg, bar)
            row = {
                "model": kind,
                "seed": seed,
                "train_mse": mse(model, X_tr, y_tr),
                "test_mse": mse(model, X_te, y_te),
                "blindness_bound_min": bound,
            }
            if kind == "rank1":
                first = next(iter(model.children()))
                assert isinstance(first, DLoRLinear)
                v1 = first.V.detach()[:, 0].numpy()
                row["blindness_bound_at_v1"] = conditional_variance(Xb, fb, v1)
            rows.append(row)
            models.setdefault(kind, model)
    bar.close()
    write_csv(folder / "fig5_errors.csv", rows)
    _plot_surfaces(models, folder / "fig5_surfaces.png")
    r1 = [r["test_mse"] for r in rows if r["model"] == "rank1"]
    dl = [r["test_mse"] for r in rows if r["model"] == "dlor"]
    claims = [
        Claim.stated(
            "A network whose hidden layer is rank 1 is blind to directions orthogonal to v1: its error "
            "stays at or above min_v E[Var(f | v^T x)]",
            "Definition 2, Figure 5",
            "fig5.rank1-blind",
            {"lowest": min(r1), "seeds": cfg.seeds, "bound": bound},
            "confirmed" if min(r1) >= 0.9 * bound else "not confirmed",
            id="fig5.rank1-blind",
            evidence={"seeds": len(r1)},
        ),
        Claim.stated(
            "Adding alpha*I (DLoR) removes the blindness: the same width and depth fits x^2 + y^2",
            "Section 4, Figure 5",
            "fig5.dlor-fits",
            {"highest": max(dl), "bound": bound, "factor": FIT_FACTOR},
            "confirmed" if max(dl) * FIT_FACTOR <= bound else "not confirmed",
            id="fig5.dlor-fits",
            evidence={"seeds": len(dl)},
        ),
    ]
    summary = Summary(
        name="fig5",
        title="Figure 5: orthogonal blindness of rank-1 networks",
        figures=["fig5/fig5_surfaces.png"],
        data=["fig5/fig5_errors.csv", "fig5/summary.json"],
        claims=claims,
        tables={"errors": rows},
        config=asdict(cfg) | {"v_best": v_best.tolist()},
        seconds=time.perf_counter() - t0,
    )
    write_json(folder / "summary.json", summary)
    return summary


def _plot_surfaces(models: dict, path: Path) -> None:
    g = np.linspace(-1, 1, 41)
    GX, GY = np.meshgrid(g, g)
    grid = torch.from_numpy(np.stack([GX.ravel(), GY.ravel()], 1))
    surfaces = [("target $x^2 + y^2$", (GX**2 + GY**2))]
    with torch.no_grad():
        for kind, label in (("rank1", "rank-1 hidden layers"), ("dlor", "DLoR hidden layers")):
            surfaces.append((label, models[kind](grid)[:, 0].numpy().reshape(GX.shape)))
    fig = plt.figure(figsize=(14, 4.4))
    for i, (label, Z) in enumerate(surfaces, start=1):
        ax = fig.add_subplot(1, 3, i, projection="3d")
        ax.plot_surface(GX, GY, Z, cmap="viridis", linewidth=0, antialiased=True)
        ax.set_title(label)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_zlabel("f(x, y)")
        ax.set_zlim(-0.2, 2.2)
    save_figure(fig, path)
