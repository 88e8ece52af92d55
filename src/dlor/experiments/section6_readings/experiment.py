r"""How the readings of Section 6.2 that the paper leaves open move its results.

The paper trains for "epochs" without a batch size, splits the 400 sawtooth points "evenly"
without saying how, and does not give the initialisation of alpha, U, V and the biases. This
experiment trains deep, wide and dense models (Appendix H.2) and the H.1 MLP under every reading
of a grid (batch size x split x initialisation) at the 5,000-epoch budget and reports, for each
reading: median and IQR of the test MSE per architecture, the success rate at the 1e-3 training
threshold, the verdict of each Figure 4 claim, and two checks that do not involve any claim
under test:

* the H.1 MLP approximates the sawtooth (Section 6.1: "once the trained MLP universally
  approximates the given test function"): the seed with the lowest *training* MSE among
  ``h1_candidates`` has test MSE at most ``approximates_mse``;
* the dense baseline learns: its median test MSE is at most ``learned_fraction`` times the
  target's variance 1/12 (the MSE of predicting the mean).

A reading that passes both qualifies. The default reading is the qualifying one that comes
first in a fixed preference order that follows common PyTorch practice (``BATCH_PREFERENCE``,
``SPLIT_PREFERENCE``, ``INIT_PREFERENCE``), never the one that confirms a claim; if none
qualifies, the first whose H.1 MLP approximates (``choose_default``).

All models of one (architecture, k, batch size) train as one group, whatever their split and
initialisation (per-model training sets), so the grid costs few compiled graphs.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ...train import GroupSpec, TrainConfig
from .._common import Claim, Summary, check_budget, check_positive_ints, median_iqr, plt, save_figure, write_csv, write_json
from .._context import RunContext, with_context
from .._data import TARGET_VARIANCE, check_split
from .._summary import WORDINGS, wording
from .._sweep import available_cores, read_group_rows, train_groups
from ..section6_training import figure4 as f4
from ..section6_uat.experiment import UATConfig, h1_group, keep_lowest_training_mse

SHARES_GROUPS = True  # under torchrun every rank trains its share of the groups (dlor.experiments._ranks)

# Preference among qualifying readings, most preferred first. Batch size 32 is the most common
# minibatch size (Keras' fit default, PyTorch tutorials); an "epoch" in PyTorch practice is a pass
# over shuffled minibatches, so full batch comes last. A random split is what train_test_split
# does. The library's own initialisation comes first (the criteria cannot tell inits apart: they
# only look at dense models).
BATCH_PREFERENCE = (32, 64, 16, None)
SPLIT_PREFERENCE = ("random", "interleaved")
INIT_PREFERENCE = ("library", "h1-linear")


def _bs_name(bs) -> str:
    return "full" if bs is None else str(bs)


@dataclass(frozen=True)
class ProtocolConfig:
    """The grid of readings and the 5,000-epoch budget of Section 6.2."""

    budget: str = "paper"
    batch_sizes: tuple[int | None, ...] = (None, 64, 32, 16)  # None: full batch
    splits: tuple[str, ...] = ("random", "interleaved")
    inits: tuple[str, ...] = ("library", "h1-linear")  # dlor.nn.INITS names
    ks: tuple[int, ...] = (1, 2, 4, 8, 16)
    seeds: int = 5
    epochs: int = 5_000  # the paper's short budget
    threshold: float = 1e-3  # Experiment 2's training MSE threshold
    dtype: str = "float32"
    split_seed: int = 0
    h1_candidates: int = 5  # H.1 MLP seeds per reading; the one with the lowest training MSE is kept
    h1_epochs: int = 2_000  # Appendix H.1: Adam, lr 0.01, 2000 epochs, no schedule mentioned
    h1_lr: float = 0.01
    approximates_mse: float = 5e-3  # "the MLP approximates the sawtooth": test MSE <= 6% of the variance 1/12
    learned_fraction: float = 0.1  # "the dense baseline learns": median test MSE <= 10% of the variance 1/12
    compile: bool = True
    workers: int = field(default_factory=available_cores)
    device: str = "cpu"  # where every group trains
    shrunk: str = ""  # what this budget leaves out of the paper grid

    def __post_init__(self):
        from ..._errors import DLoRError

        for b in self.batch_sizes:
            TrainConfig(batch_size=b)
        for s in self.splits:
            check_split(s)
        from ...nn._families import family_init

        for i in self.inits:
            family_init(i)
        check_budget(self.budget)
        check_positive_ints(self, ("seeds", "epochs", "h1_candidates", "h1_epochs", "workers"))
        check_positive_ints(self, ("ks",), each=True)
        for name in ("batch_sizes", "splits", "inits"):
            if not getattr(self, name):
                raise DLoRError(f"{name} must hold at least one reading, got {getattr(self, name)!r}")

    @classmethod
    def paper(cls) -> ProtocolConfig:
        return cls()

    @classmethod
    def quick(cls) -> ProtocolConfig:
        return cls(
            budget="quick",
            batch_sizes=(32,),
            ks=(1, 4),
            seeds=2,
            h1_candidates=3,
            shrunk="batch size 32 only of {full, 64, 32, 16} (the split and the initialisation still vary); "
            "k in {1, 4} of {1, 2, 4, 8, 16}; 2 seeds of 5; 3 H.1 candidates of 5",
        )

    @classmethod
    def tiny(cls) -> ProtocolConfig:
        return cls(
            budget="tiny",
            batch_sizes=(None, 64),
            ks=(1,),
            seeds=1,
            epochs=10,
            h1_candidates=2,
            h1_epochs=10,
            compile=False,
            workers=1,
            shrunk="a smoke test: 10 epochs, k = 1, 1 seed",
        )


CONFIG = ProtocolConfig


def _groups(cfg: ProtocolConfig) -> tuple[list[GroupSpec], dict[str, TrainConfig], list[GroupSpec], dict[str, TrainConfig]]:
    """The sweep's groups (in ``cfg.dtype``) and the H.1 MLP groups (float64, as Section 6.1)."""
    groups, tcfgs, h1, h1cfgs = [], {}, [], {}
    for bs in cfg.batch_sizes:
        tcfg = TrainConfig(
            epochs=cfg.epochs,
            eval_epochs=(),
            success_threshold=cfg.threshold,
            checkpoint_every=max(cfg.epochs // 5, 1),
            compile=cfg.compile,
            batch_size=bs,
        )
        tag = f"bs{_bs_name(bs)}"
        members = [(split, init, s) for split in cfg.splits for init in cfg.inits for s in range(cfg.seeds)]
        for arch in ("deep", "wide"):
            for k in cfg.ks:
                g = GroupSpec(
                    arch,
                    k,
                    None,
                    [s for _, _, s in members],
                    tag=tag,
                    inits=[i for _, i, _ in members],
                    member_extra=[{"split": sp, "split_seed": cfg.split_seed} for sp, _, _ in members],
                )
                groups.append(g)
                tcfgs[g.name] = tcfg
        dense_members = [(split, s) for split in cfg.splits for s in range(cfg.seeds)]
        g = GroupSpec(
            "dense",
            None,
            [1, 16, 16, 1],
            [s for _, s in dense_members],
            tag=f"baseline_{tag}",
            member_extra=[{"split": sp, "split_seed": cfg.split_seed} for sp, _ in dense_members],
        )
        groups.append(g)
        tcfgs[g.name] = tcfg
        for split in cfg.splits:  # exactly the group that Figure 2 trains under this reading
            g, h1cfg = h1_group(
                UATConfig(
                    epochs=cfg.h1_epochs,
                    lr=cfg.h1_lr,
                    candidates=cfg.h1_candidates,
                    batch_size=bs,
                    split=split,
                    split_seed=cfg.split_seed,
                ),
                tag=f"h1_{tag}_{split}",
            )
            h1.append(g)
            h1cfgs[g.name] = h1cfg
    return groups, tcfgs, h1, h1cfgs


def _analyse(cfg: ProtocolConfig, rows: list[dict], h1_rows: list[dict]) -> tuple[list[dict], list[dict], dict]:
    """Per-reading table, per-(reading, arch, k) table and the claims of every reading."""
    table, per_k, verdicts = [], [], {}
    learned_mse = cfg.learned_fraction * TARGET_VARIANCE
    for bs in cfg.batch_sizes:
        for split in cfg.splits:
            h1 = [r for r in h1_rows if str(r["batch_size"]) == _bs_name(bs) and r["split"] == split]
            best = h1[keep_lowest_training_mse(h1)]
            dense = [r for r in rows if r["arch"] == "dense" and str(r["batch_size"]) == _bs_name(bs) and r["split"] == split]
            d_med, d_q1, d_q3 = median_iqr(r["test_mse_final"] for r in dense)
            for init in cfg.inits:
                sel = [
                    r
                    for r in rows
                    if r["arch"] != "dense" and str(r["batch_size"]) == _bs_name(bs) and r["split"] == split and r["init"] == init
                ]
                reading_rows = sel + dense
                claims = f4.short_budget_claims(reading_rows, "test_mse_final", cfg.epochs, "protocol")
                key = (_bs_name(bs), split, init)
                verdicts[key] = claims
                entry = {
                    "batch_size": _bs_name(bs),
                    "split": split,
                    "init": init,
                    "h1_mlp_test_mse": best["test_mse_final"],
                    "h1_mlp_seed": best["seed"],
                    "h1_approximates": best["test_mse_final"] <= cfg.approximates_mse,
                    "dense_median": d_med,
                    "dense_q1": d_q1,
                    "dense_q3": d_q3,
                    "dense_learns": d_med <= learned_mse,
                }
                for arch in ("deep", "wide"):
                    med, q1, q3 = median_iqr(r["test_mse_final"] for r in sel if r["arch"] == arch)
                    entry |= {f"{arch}_median": med, f"{arch}_q1": q1, f"{arch}_q3": q3}
                    for k in cfg.ks:
                        kk = [r for r in sel if r["arch"] == arch and r["k"] == k]
                        m, a, b = median_iqr(r["test_mse_final"] for r in kk)
                        per_k.append(
                            {
                                "batch_size": _bs_name(bs),
                                "split": split,
                                "init": init,
                                "arch": arch,
                                "k": k,
                                "median": m,
                                "q1": a,
                                "q3": b,
                                "success_rate": f4.success_rate(kk, arch),
                            }
                        )
                for arch in ("deep", "wide", "dense"):
                    entry[f"{arch}_success"] = f4.success_rate(reading_rows, arch)
                labels = ("deep_beats_wide", "deep_near_1e-4", "deep_faster_more_often", "dense_below_deep")
                for label, c in zip(labels, claims, strict=True):
                    entry[label] = c.verdict
                entry["qualifies"] = entry["h1_approximates"] and entry["dense_learns"]
                table.append(entry)
    return table, per_k, verdicts


def choose_default(table: list[dict]) -> dict | None:
    """The reading that comes first in the preference order among those that qualify (both
    checks pass); when none does, among those whose H.1 MLP approximates the sawtooth (the check
    the paper states about its own run: "once the trained MLP universally approximates"). The
    result carries ``rule``, the tier it came from; None if no reading passes either."""

    def rank(e):
        bs = None if e["batch_size"] == "full" else int(e["batch_size"])
        return (
            BATCH_PREFERENCE.index(bs) if bs in BATCH_PREFERENCE else len(BATCH_PREFERENCE),
            SPLIT_PREFERENCE.index(e["split"]),
            INIT_PREFERENCE.index(e["init"]) if e["init"] in INIT_PREFERENCE else 9,
        )

    for rule, ok in (
        ("H.1 MLP approximates and dense learns", lambda e: e["qualifies"]),
        ("H.1 MLP approximates (no reading lets the dense baseline learn)", lambda e: e.get("h1_approximates")),
    ):
        candidates = [e for e in table if ok(e)]
        if candidates:
            return min(candidates, key=rank) | {"rule": rule}
    return None


def run(cfg: ProtocolConfig, out: Path, ctx: RunContext) -> Summary:
    """Train the grid of readings of ``cfg`` on ``ctx.device``; write the table, the figure and the claims."""
    cfg = with_context(cfg, ctx)
    progress = ctx.progress
    t0 = time.perf_counter()
    folder = Path(out) / "protocol"
    groups, tcfgs, h1, h1cfgs = _groups(cfg)
    for todo, tcfg, dtype in ((h1, h1cfgs, "float64"), (groups, tcfgs, cfg.dtype)):
        train_groups(folder / "runs", todo, tcfg, dtype, workers=cfg.workers, progress=progress, device=cfg.device)
    rows, h1_rows = read_group_rows(folder / "runs", groups), read_group_rows(folder / "runs", h1)
    write_csv(folder / "runs.csv", rows + h1_rows)
    table, per_k, verdicts = _analyse(cfg, rows, h1_rows)
    write_csv(folder / "protocol_table.csv", table)
    write_csv(folder / "protocol_per_k.csv", per_k)
    _plot(cfg, table, folder / "protocol_grid.png")
    default = choose_default(table)
    claims = _claims(cfg, table, verdicts, default)
    short = [
        {
            k: e[k]
            for k in (
                "batch_size",
                "split",
                "init",
                "h1_mlp_test_mse",
                "dense_median",
                "deep_median",
                "wide_median",
                "deep_success",
                "wide_success",
                "dense_success",
                "deep_beats_wide",
                "deep_near_1e-4",
                "deep_faster_more_often",
                "dense_below_deep",
                "qualifies",
            )
        }
        for e in table
    ]
    summary = Summary(
        name="protocol",
        title="Section 6.2 under every reading of what the paper leaves open (batch size, split, initialisation)",
        figures=["protocol/protocol_grid.png"],
        data=["protocol/protocol_table.csv", "protocol/protocol_per_k.csv", "protocol/runs.csv"],
        claims=claims,
        tables={f"Readings at {cfg.epochs} epochs (medians over k and seeds; verdicts of the Figure 4 claims)": short},
        config=asdict(cfg)
        | {
            "default": default,
            "variance": TARGET_VARIANCE,
            "preference": {
                "batch_size": [_bs_name(b) for b in BATCH_PREFERENCE],
                "split": list(SPLIT_PREFERENCE),
                "init": list(INIT_PREFERENCE),
            },
        },
        seconds=time.perf_counter() - t0,
    )
    write_json(folder / "summary.json", summary)
    return summary


def _reading_name(default: dict | None) -> str:
    if default is None:
        return "none"
    return f"{default['batch_size']}/{default['split']}/{default['init']} ({default['rule']})"


@wording("protocol.qualifying")
def _qualifying_words(
    qualifying: int, readings: int, approximates: float, learned: float, fraction: float, names: str, default: str
) -> str:
    return (
        f"{qualifying}/{readings} readings qualify (H.1 MLP test MSE <= {approximates:g} and dense median "
        f"test MSE <= {learned:.2g} = {fraction:g} x variance): {names}; default chosen by the stated "
        f"preference: {default}"
    )


@wording("protocol.under-readings")
def _under_readings_words(default: dict | None, confirmed: int, readings: int, confirmed_qualifying: int, qualifying: int) -> str:
    """``default``: the default reading's own claim (``kind`` and ``values``), or None when no reading qualifies."""
    head = (
        "no reading qualifies, so no model-comparison is judged"
        if default is None
        else "under the default reading: " + WORDINGS[default["kind"]](**default["values"])
    )
    return f"{head}; confirmed under {confirmed}/{readings} readings ({confirmed_qualifying}/{qualifying} qualifying)"


def _claims(cfg, table, verdicts, default) -> list[Claim]:
    n = len(table)
    learned = cfg.learned_fraction * TARGET_VARIANCE
    qualifying = [e for e in table if e["qualifies"]]
    names = ", ".join(f"{e['batch_size']}/{e['split']}/{e['init']}" for e in qualifying) or "none"
    values = {
        "qualifying": len(qualifying),
        "readings": n,
        "approximates": cfg.approximates_mse,
        "learned": learned,
        "fraction": cfg.learned_fraction,
        "names": names,
        "default": _reading_name(default),
    }
    claims = [
        Claim.stated(
            "Some reading of the unstated choices lets the H.1 MLP approximate the sawtooth and the dense baseline learn",
            "Section 6.1 and Figure 4 (non-comparative statements)",
            "protocol.qualifying",
            values,
            "confirmed" if qualifying else "not confirmed",
            id="protocol.some-reading-learns",
            evidence={"readings": n},
        )
    ]
    for i, label in enumerate(("deep_beats_wide", "deep_near_1e-4", "deep_faster_more_often", "dense_below_deep")):
        base = next(iter(verdicts.values()))[i]
        evidence = base.evidence
        counts = sum(e[label] == "confirmed" for e in table)
        counts_q = sum(e[label] == "confirmed" for e in qualifying)
        inner: dict | None = None
        if default is None:
            verdict = "not judged"
        else:
            c = verdicts[(default["batch_size"], default["split"], default["init"])][i]
            inner, verdict, evidence = {"kind": c.kind, "values": c.values}, c.verdict, c.evidence
        claims.append(
            Claim.stated(
                base.claim,
                base.source,
                "protocol.under-readings",
                {
                    "default": inner,
                    "confirmed": counts,
                    "readings": n,
                    "confirmed_qualifying": counts_q,
                    "qualifying": len(qualifying),
                },
                verdict,
                id=base.id,
                evidence=evidence,
            )
        )
    return claims


def _plot(cfg, table, path) -> None:
    labels = [f"{e['batch_size']:>4} | {e['split'][:6]} | {e['init']}{'  *' if e['qualifies'] else ''}" for e in table]
    mse_cols = [("h1_mlp_test_mse", "H.1 MLP"), ("dense_median", "dense"), ("deep_median", "deep"), ("wide_median", "wide")]
    rate_cols = [("dense_success", "dense"), ("deep_success", "deep"), ("wide_success", "wide")]
    mse = np.array([[e[c] for c, _ in mse_cols] for e in table], dtype=float)
    rate = np.array([[e[c] for c, _ in rate_cols] for e in table], dtype=float)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 0.42 * len(table) + 2.2), gridspec_kw={"width_ratios": [4, 3]})
    im = a.imshow(np.log10(np.maximum(mse, 1e-12)), cmap="viridis_r", aspect="auto", vmin=-5, vmax=math.log10(TARGET_VARIANCE))
    for (i, j), v in np.ndenumerate(mse):
        a.text(j, i, f"{v:.1e}", ha="center", va="center", fontsize=7, color="w" if math.log10(max(v, 1e-12)) > -2.5 else "k")
    a.set_xticks(range(len(mse_cols)), [n for _, n in mse_cols])
    a.set_yticks(range(len(table)), labels, fontsize=7, family="monospace")
    a.set_title(f"median test MSE after {cfg.epochs} epochs (log10)", fontsize=9)
    fig.colorbar(im, ax=a, fraction=0.04)
    im2 = b.imshow(rate, cmap="Greens", aspect="auto", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(rate):
        b.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=7)
    b.set_xticks(range(len(rate_cols)), [n for _, n in rate_cols])
    b.set_yticks([])
    b.set_title(f"success rate (training MSE < {cfg.threshold:g})", fontsize=9)
    fig.colorbar(im2, ax=b, fraction=0.05)
    fig.suptitle("batch size | split | init   (* = the H.1 MLP approximates and dense learns)", fontsize=9)
    save_figure(fig, path)
