r"""Appendix H.3: spectral contributions inside trained deep and wide DLoR layers (Figures 2(c), 3(c)).

Deep and wide networks of width 64 with k = 16 substructures (r = 4) are trained on the sawtooth
(the H.3 baseline is an MLP with 64 x 64 hidden layers). Then

* deep, second layer ``W = alpha I + U V^T = P Sigma Q^T``: ``diag(Sigma)``,
  ``diag(P^T U V^T Q)`` and ``diag(P^T (alpha I) Q)``;
* wide, ``W_total = sum_i W_i`` with ``W_i = alpha_i U_i V_i^T``: ``|diag(P^T W_i Q)|`` per branch,

computed by [`dlor.spectral_contributions`][dlor.spectral_contributions].
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..._matrix import DLoR
from ..._progress import progress_bar
from ...decompose import spectral_contributions
from ...nn import DeepDLoR, WideDLoR
from ...train import GroupSpec, GroupTrainer, TrainConfig
from ...train._batched import make_module, unstack_to_module
from .._common import Claim, Summary, check_budget, check_positive_ints, plt, save_figure, write_csv, write_json
from .._context import RunContext, with_context
from .._data import TARGET_VARIANCE, sawtooth_data
from .._summary import wording
from .._sweep import available_cores


@dataclass(frozen=True)
class SpectralConfig:
    """Appendix H.3 settings: one deep and one wide model of width 64 with k = 16 (r = 4)."""

    budget: str = "paper"
    width: int = 64
    k: int = 16  # r = ceil(64 / 16) = 4
    epochs: int = 20_000
    lr: float = 0.005
    seed: int = 0
    layer: int = 1  # the second deep layer (0-based), as in Figure 2(c)
    # the reading of Section 6.2 (see SweepConfig): minibatch size (None: full batch), split, init
    batch_size: int | None = 32
    split: str = "interleaved"
    init: str = "library"
    # a trained layer's spectrum speaks for the paper's claim only if the model learned the sawtooth:
    # test MSE below this fraction of the target's variance 1/12 (else the claim is not judged)
    learned_fraction: float = 0.5
    compile: bool = True  # compile each model's epoch with TorchInductor (3-5x faster per epoch after a compile)
    workers: int = field(default_factory=available_cores)  # 2 or more: deep and wide train side by side
    device: str = "cpu"  # where both models train (their spectra are computed on the CPU)
    shrunk: str = ""  # what this budget leaves out of the paper budget (printed in the report)

    def __post_init__(self):
        from ..._errors import DLoRError
        from ...nn._families import family_init
        from .._data import check_split

        check_budget(self.budget)
        TrainConfig(batch_size=self.batch_size)  # validates it
        check_split(self.split)
        family_init(self.init)
        check_positive_ints(self, ("epochs",))
        if not 0 <= self.layer < 3:
            raise DLoRError(f"layer must be 0, 1 or 2 (the deep network's three DLoR layers), got {self.layer!r}")

    @classmethod
    def _reading(cls) -> dict:
        from ..section6_training.experiment import SweepConfig

        sweep = SweepConfig()
        return {"batch_size": sweep.batch_size, "split": sweep.split, "init": sweep.init}

    @classmethod
    def paper(cls) -> SpectralConfig:
        return cls(**cls._reading())

    @classmethod
    def quick(cls) -> SpectralConfig:
        return cls(budget="quick", epochs=3_000, shrunk="3,000 epochs of 20,000", **cls._reading())

    @classmethod
    def tiny(cls) -> SpectralConfig:
        return cls(budget="tiny", epochs=30, compile=False, workers=1, shrunk="a smoke test: 30 epochs", **cls._reading())


CONFIG = SpectralConfig


def _train(arch: str, data, cfg: SpectralConfig, progress: bool) -> tuple[nn.Module, float]:
    """Train one ``arch`` model (seed ``cfg.seed``) with the vectorized trainer, compiled: Adam and
    ReduceLROnPlateau exactly as ``torch.optim`` (tested there), the minibatch orders of
    [`dlor.train.epoch_orders`][dlor.train.epoch_orders], the schedule on the full training MSE, as the sweep. Returns
    the trained module (on the CPU) and its test MSE."""
    spec = GroupSpec(arch, cfg.k, [1, cfg.width, cfg.width, 1], [cfg.seed], inits=[cfg.init])
    tcfg = TrainConfig(epochs=cfg.epochs, lr=cfg.lr, eval_epochs=(), batch_size=cfg.batch_size, compile=cfg.compile)
    trainer = GroupTrainer(spec, tcfg, dtype=torch.float32, device=cfg.device)
    bar = progress_bar(total=cfg.epochs, desc=f"spectral: training {arch}", disable=not progress, leave=False)
    rows = trainer.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"], on_epoch=bar.update)
    bar.close()
    module = make_module(arch, cfg.k, spec.widths, init=cfg.init)
    unstack_to_module({n: t.cpu() for n, t in trainer.params().items()}, 0, module)
    return module, rows[0]["test_mse_final"]


def _worker(arch: str, cfg: SpectralConfig) -> tuple[dict, float]:
    """In a worker process of one thread: train ``arch`` and return its parameters and test MSE."""
    torch.set_num_threads(1)
    data = sawtooth_data(dtype=torch.float32, split=cfg.split)
    module, mse = _train(arch, data, cfg, progress=False)
    return {n: p.detach().numpy() for n, p in module.named_parameters()}, mse  # arrays: no shared memory


def _train_both(data, cfg: SpectralConfig, progress: bool) -> list[tuple[nn.Module, float]]:
    """The deep and the wide model: side by side in two single-threaded processes when
    ``cfg.workers`` allows (their compiles and epochs overlap), else one after the other here."""
    if cfg.workers < 2 or cfg.device != "cpu":
        return [_train(arch, data, cfg, progress) for arch in ("deep", "wide")]
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = [pool.apply_async(_worker, (arch, cfg)) for arch in ("deep", "wide")]
        out = []
        for arch, result in zip(("deep", "wide"), results, strict=True):
            params, mse = result.get()
            module = make_module(arch, cfg.k, [1, cfg.width, cfg.width, 1], init=cfg.init)
            unstack_to_module({n: torch.from_numpy(a)[None] for n, a in params.items()}, 0, module)
            out.append((module, mse))
    return out


def run(cfg: SpectralConfig, out: Path, ctx: RunContext) -> Summary:
    """Train one deep and one wide model on ``ctx.device`` and write Figures 2(c), 3(c) and the claims.

    Each claim is judged only when its model learned the sawtooth (test MSE at most
    ``cfg.learned_fraction`` of the variance 1/12); otherwise it is "not judged", with its numbers.
    """
    cfg = with_context(cfg, ctx)
    progress, device = ctx.progress, cfg.device
    t0 = time.perf_counter()
    folder = Path(out) / "spectral"
    data = {name: t.to(device) for name, t in sawtooth_data(dtype=torch.float32, split=cfg.split).items()}
    (deep, deep_mse), (wide, wide_mse) = _train_both(data, cfg, progress)
    assert isinstance(deep, DeepDLoR) and isinstance(wide, WideDLoR)
    l = cfg.layer
    M = DLoR(deep.alpha.detach(), deep.U[l].detach(), deep.V[l].detach())
    sc = spectral_contributions(M)
    branches = [float(wide.alphas[i].detach()) * (wide.U[i] @ wide.V[i].T).detach() for i in range(cfg.k)]
    wc = spectral_contributions(branches)
    r = deep.rank
    s, low, ident = (sc[key].numpy() for key in ("singular_values", "low_rank", "identity"))
    rows = [{"index": i, "singular_value": s[i], "low_rank": low[i], "identity": ident[i]} for i in range(len(s))]
    write_csv(folder / "fig2c_deep_spectrum.csv", rows)
    B = wc["branches"].numpy()
    wrows = [
        {"index": j, "singular_value": float(wc["singular_values"][j])} | {f"branch_{i}": float(B[i, j]) for i in range(cfg.k)}
        for j in range(B.shape[1])
    ]
    write_csv(folder / "fig3c_wide_spectrum.csv", wrows)
    _plot_deep(s, low, ident, r, folder / "fig2c_deep_spectral.png")
    _plot_wide(wc["singular_values"].numpy(), B, folder / "fig3c_wide_spectral.png")
    top_low = float(np.abs(low[:r]).sum() / np.abs(s[:r]).sum())
    rest_ident = float(np.abs(ident[r:]).sum() / np.abs(s[r:]).sum())
    share = B / np.maximum(B.sum(0, keepdims=True), 1e-300)  # each branch's share of each direction
    n_sv = max(B.shape[1] // 4, 1)
    dominant = float(share[:, :n_sv].max(0).mean())
    breadth = float(np.mean((B[:, :n_sv] > 0.05 * wc["singular_values"].numpy()[:n_sv]).sum(0)))
    claims = [
        Claim.stated(
            "Deep layer: the low-rank part supplies the few dominant singular directions, the identity a broad background",
            "Section 6.2 (Experiment 3), Figure 2(c)",
            "spectral.deep",
            {
                "top": r,
                "top_low": top_low,
                "rest": len(s) - r,
                "rest_identity": rest_ident,
                "alpha": float(deep.alpha.detach()),
                "mse": deep_mse,
                "learned_fraction": cfg.learned_fraction,
            },
            _judged(
                deep_mse,
                cfg,
                "confirmed"
                if top_low >= 0.5 and rest_ident >= 0.5
                else ("partially confirmed" if max(top_low, rest_ident) >= 0.5 else "not confirmed"),
            ),
            id="spectral.deep-lowrank-dominant",
            evidence={"trained networks": 1, "singular values": len(s)},
        ),
        Claim.stated(
            "Wide layer: the spectrum is an accumulation of overlapping branch contributions, no branch owning a direction",
            "Section 6.2 (Experiment 3), Figure 3(c)",
            "spectral.wide",
            {
                "top": n_sv,
                "dominant": dominant,
                "breadth": breadth,
                "branches": cfg.k,
                "mse": wide_mse,
                "learned_fraction": cfg.learned_fraction,
            },
            _judged(
                wide_mse,
                cfg,
                "confirmed"
                if dominant < 0.5 and breadth >= 2
                else ("partially confirmed" if breadth >= 2 or dominant < 0.5 else "not confirmed"),
            ),
            id="spectral.wide-overlapping-branches",
            evidence={"trained networks": 1, "singular values": B.shape[1]},
        ),
    ]
    summary = Summary(
        name="spectral",
        title="Figures 2(c) and 3(c): spectral contributions in trained deep and wide layers (Appendix H.3)",
        figures=["spectral/fig2c_deep_spectral.png", "spectral/fig3c_wide_spectral.png"],
        data=["spectral/fig2c_deep_spectrum.csv", "spectral/fig3c_wide_spectrum.csv", "spectral/summary.json"],
        claims=claims,
        config=asdict(cfg) | {"seeds": 1},
        seconds=time.perf_counter() - t0,
    )
    write_json(folder / "summary.json", summary)
    return summary


def _learned_text(learned_fraction: float) -> str:
    return f"judged if <= {learned_fraction:g} x the variance {TARGET_VARIANCE:.3f}"


@wording("spectral.deep")
def _deep_words(
    top: int, top_low: float, rest: int, rest_identity: float, alpha: float, mse: float, learned_fraction: float
) -> str:
    return (
        f"low-rank share of the top {top} singular values {float(top_low):.0%}; identity share of the other {rest}: "
        f"{float(rest_identity):.0%} (alpha = {float(alpha):.3f}; test MSE {float(mse):.2e}, {_learned_text(learned_fraction)})"
    )


@wording("spectral.wide")
def _wide_words(top: int, dominant: float, breadth: float, branches: int, mse: float, learned_fraction: float) -> str:
    return (
        f"over the top {top} directions the largest branch holds {float(dominant):.0%} of the contributions on average "
        f"and {float(breadth):.1f} of {branches} branches contribute > 5% of each singular value "
        f"(test MSE {float(mse):.2e}, {_learned_text(learned_fraction)})"
    )


def _judged(test_mse: float, cfg: SpectralConfig, verdict: str) -> str:
    """``verdict`` if the model learned (test MSE <= learned_fraction x variance), else "not judged"."""
    return verdict if test_mse <= cfg.learned_fraction * TARGET_VARIANCE else "not judged"


def _plot_deep(s, low, ident, r, path):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    idx = np.arange(1, len(s) + 1)
    ax.plot(idx, s, "k-", lw=2, label=r"singular values diag($\Sigma$)")
    ax.plot(idx, low, "o", ms=3, label=r"low-rank diag($P^T U V^T Q$)")
    ax.plot(idx, ident, "s", ms=3, label=r"identity diag($P^T \alpha I Q$)")
    ax.axvline(r + 0.5, color="0.6", ls=":", label=f"r = {r}")
    ax.set_xlabel("singular direction index")
    ax.set_ylabel("contribution")
    ax.set_title("deep DLoR layer 2: spectral decomposition")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    save_figure(fig, path)


def _plot_wide(s, B, path):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    idx = np.arange(1, len(s) + 1)
    bottom = np.zeros_like(s)
    cmap = plt.get_cmap("tab20")
    for i in range(B.shape[0]):
        ax.bar(idx, B[i], bottom=bottom, color=cmap(i % 20), width=0.9, label=f"branch {i + 1}" if i < 8 else None)
        bottom += B[i]
    ax.plot(idx, s, "k-", lw=2, label=r"singular values of $W_{total}$")
    ax.set_xlabel("singular direction index")
    ax.set_ylabel(r"$|diag(P^T W_i Q)|$ (stacked)")
    ax.set_title("wide DLoR layer: branch-wise spectral contributions")
    ax.legend(fontsize=7, ncol=2)
    save_figure(fig, path)
