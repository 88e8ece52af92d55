r"""Appendix G tested on text: pretraining a small GPT with dense, low-rank, DLoR and sparse plus low-rank projections.

Appendix G argues that a pure low-rank layer ``U V^T`` cannot learn the orthogonal tail of a
weight from scratch and that ``alpha I + U V^T`` restores universal approximation, "a rigorous
architectural blueprint for parameter-efficient pretraining". The paper runs no experiment on it.
Here byte-level GPTs (:mod:`dlor.lm`) are pretrained on Shakespeare's works (:mod:`dlor.lm.data`)
at several parameter budgets. At each budget (a rank ``r`` at the structured width ``n_embd``):

* ``dlor`` and ``lowrank`` have the same width and rank (they differ by one ``alpha`` per
  projection), which isolates ``alpha I``;
* ``sparse+lowrank`` has the same width, rank ``r // 2`` and the density of its sparse part set
  so that its projections hold as many parameters as DLoR's;
* ``dense`` has a smaller width (and MLP width) chosen so that its whole model holds as many
  parameters as DLoR's, within 2%.

Every run is resumable: finished runs are kept in ``lm/runs/*/result.json`` and an interrupted
one continues from its checkpoint.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .._errors import DLoRError
from ..lm import GPT, GPTConfig, TrainSettings, load_corpus, train
from ..lm.data import VOCAB_SIZE
from ..lm.model import VARIANTS
from . import _ranks as ranks
from ._common import Claim, Summary, check_budget, plt, read_json_checked, save_figure, write_csv, write_json

SHARES_GROUPS = True  # under torchrun every rank trains its share of the runs (dlor.experiments._ranks)
PARAM_TOLERANCE = 0.02  # matched parameter counts agree within 2%
COLOURS = {"dense": "tab:gray", "lowrank": "tab:red", "dlor": "tab:blue", "sparse+lowrank": "tab:green"}


@dataclass
class LMConfig:
    """The grid and the optimisation of ``dlor reproduce lm`` (``ranks``: one parameter budget each)."""

    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    # the optimisation of every run (its seed is set per run by :meth:`settings`)
    train: TrainSettings = field(default_factory=lambda: TrainSettings(
        steps=2000, batch_size=16, warmup=100, eval_every=200, eval_batches=16, checkpoint_every=200))
    ranks: list[int] = field(default_factory=lambda: [8, 16, 32])
    seeds: int = 3
    margin: float = 0.01  # nats per byte: a difference smaller than this (or the seeds' spread) is a tie
    gap_closed: float = 0.5  # the gap-closing claim holds where DLoR closes at least this fraction
    shrunk: str = ""

    @classmethod
    def for_budget(cls, budget: str, seeds: int | None = None) -> LMConfig:
        budget = check_budget(budget)
        if budget == "paper":
            cfg = cls()
        elif budget == "quick":
            cfg = cls(train=TrainSettings(steps=1000, batch_size=16, warmup=50, eval_every=100, eval_batches=8,
                                          checkpoint_every=100), seeds=1,
                      shrunk="1 seed instead of 3; 1,000 steps instead of 2,000; 8 validation batches instead of 16")
        else:
            cfg = cls(n_layer=1, n_head=2, n_embd=32, block_size=32, ranks=[2, 4], seeds=1,
                      train=TrainSettings(steps=60, batch_size=8, lr=3e-3, warmup=5, eval_every=20, eval_batches=2,
                                          checkpoint_every=20),
                      shrunk="a smoke test: 1 layer of width 32, 60 steps, 1 seed")
        if seeds is not None:
            if seeds < 1:
                raise DLoRError(f"seeds must be >= 1, got {seeds}")
            cfg.seeds = seeds
        return cfg

    def settings(self, seed: int) -> TrainSettings:
        return replace(self.train, seed=seed)


def model_configs(cfg: LMConfig, rank: int) -> dict[str, GPTConfig]:
    """The four variants of one parameter budget (see the module docstring)."""
    base = GPTConfig(variant="dlor", n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd,
                     block_size=cfg.block_size, rank=rank)
    out = {"dlor": base, "lowrank": replace(base, variant="lowrank")}
    d, h, L = base.n_embd, base.mlp_hidden, base.n_layer
    low = max(1, rank // 2)
    entries = L * (4 * d * d + 2 * d * h)
    extra = L * (4 * (1 + 2 * d * (rank - low)) + 2 * (1 + (d + h) * (rank - low)))  # DLoR's minus rank-low factors
    density = extra / entries
    if not 0 < density < 1:
        raise DLoRError(f"rank {rank} at width {d} leaves no room for a sparse part (density {density:.3g}); use a smaller rank")
    out["sparse+lowrank"] = replace(base, variant="sparse+lowrank", rank=low, density=density)
    out["dense"] = matched_dense(GPT(base).num_params(), base)
    return out


def _params(c: GPTConfig) -> int:
    """Parameters of a dense GPT, counted without building it."""
    d, h, L, V, T = c.n_embd, c.mlp_hidden, c.n_layer, c.vocab_size, c.block_size
    return V * d + T * d + L * (4 * d + 4 * d * d + 2 * d * h) + 2 * d


def matched_dense(target: int, like: GPTConfig) -> GPTConfig:
    """The dense GPT (width a multiple of ``n_head``, then its MLP width tuned) closest to ``target`` parameters."""
    best = None
    for d in range(like.n_head, like.n_embd + 1, like.n_head):
        fixed = _params(replace(like, variant="dense", n_embd=d, mlp_hidden=1)) - 2 * d * like.n_layer
        h = max(1, round((target - fixed) / (2 * d * like.n_layer)))
        c = GPTConfig(variant="dense", n_layer=like.n_layer, n_head=like.n_head, n_embd=d, block_size=like.block_size,
                      mlp_hidden=h, vocab_size=like.vocab_size)
        if h <= 8 * d and (best is None or abs(_params(c) - target) < abs(_params(best) - target)):
            best = c
    if best is None or abs(_params(best) - target) > PARAM_TOLERANCE * target:
        raise DLoRError(f"no dense GPT of width <= {like.n_embd} matches {target:,} parameters within 2%")
    return best


def unigram_loss(corpus) -> float:
    """Cross-entropy (nats per byte) of the validation split under the training split's byte frequencies
    (add-one smoothing): what a model that ignores context reaches."""
    counts = torch.bincount(corpus.train.long(), minlength=VOCAB_SIZE).double() + 1
    logp = (counts / counts.sum()).log()
    return float(-logp[corpus.val.long()].mean())


def _run_dir(folder: Path, variant: str, rank: int, seed: int) -> Path:
    return folder / "runs" / f"{variant}-r{rank}-s{seed}"


def _checkpoint_problem(path: Path) -> str | None:
    """Why the run's ``checkpoint.safetensors`` cannot be read back (None: it can)."""
    import json

    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            progress = json.loads(f.metadata()["progress"])
            for key in f.keys():
                f.get_tensor(key)
    except FileNotFoundError:
        return "missing"
    except Exception as err:  # noqa: BLE001 - torn or foreign: any failure to read it back
        return f"{type(err).__name__}: {str(err)[:80]}"
    if not isinstance(progress, dict) or "step" not in progress:
        return "no training progress in its metadata"
    return None


def _intact_result(run_dir: Path) -> dict | None:
    """A finished run's ``result.json`` record, when it and its ``checkpoint.safetensors`` both read
    back (None otherwise); a torn one is set aside (with a one-line note) and the run counts as
    unfinished."""
    from .._files import set_aside

    result = read_json_checked(run_dir / "result.json", lambda d: isinstance(d, dict) and "val_loss" in d)
    ckpt = run_dir / "checkpoint.safetensors"
    problem = _checkpoint_problem(ckpt)
    if problem is not None and problem != "missing" and ranks.is_main():
        set_aside(ckpt, problem)
    if result is not None and problem is not None and ranks.is_main():
        set_aside(run_dir / "result.json", f"its checkpoint is {problem}")  # retrain: the model must be sampleable
        return None
    return result


def files_intact(out: Path) -> bool:
    """Every finished run under ``out/lm/runs`` reads back (see :func:`_intact_result`); the
    command line asks this before it keeps a finished ``summary.json``."""
    runs = Path(out) / "lm" / "runs"
    if not runs.is_dir():
        return True
    return all([_intact_result(d) is not None for d in sorted(runs.iterdir()) if (d / "result.json").exists()])


def _finished(cfg: LMConfig, job: tuple, folder: Path) -> dict | None:
    """The record of ``job`` = ``(rank, variant, model config, seed)`` if it was trained with these
    settings and its files read back."""
    r, variant, mc, seed = job
    done = _intact_result(_run_dir(folder, variant, r, seed))
    if done is not None and done.get("model_config") == mc.to_dict() and done.get("settings") == asdict(cfg.settings(seed)):
        return done
    return None


def _train_one(cfg: LMConfig, job: tuple, corpus, folder: Path, device: str, progress: bool) -> None:
    r, variant, mc, seed = job
    run_dir = _run_dir(folder, variant, r, seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    # one model per process: under torchrun the processes share the runs out, they do not
    # train one model together (data_parallel=False), and each writes the files of its own runs
    rec = train(mc, cfg.settings(seed), corpus, device=device, run_dir=run_dir, progress=progress, data_parallel=False)
    rec.pop("model")
    rec |= {"variant": variant, "budget_rank": r, "seed": seed}
    if ranks.world_size() > 1:
        rec["process_rank"] = ranks.rank()  # which torchrun process trained it
    write_json(run_dir / "result.json", rec, every_rank=True)


def _job_cost(job: tuple) -> float:
    """Relative time of a run, to share the runs out: sparse + low-rank trains 2.5-4x fewer tokens
    per second than the other variants on the CPU (its CSR product; ``lm_summary.csv``)."""
    return 3.0 if job[1] == "sparse+lowrank" else 1.0


def run(out: Path, budget: str = "quick", seeds: int | None = None, progress: bool = True, device: str = "cpu") -> Summary:
    """Train the grid (resuming finished and interrupted runs), write the CSVs, figures and claims.

    Under ``torchrun`` the processes share the runs out (:func:`dlor.experiments._ranks.my_share`),
    each run trained by one process alone; rank 0 then writes the tables, figures and claims.
    """
    cfg = LMConfig.for_budget(budget, seeds)
    t0 = time.perf_counter()
    folder = Path(out) / "lm"
    corpus = load_corpus()
    jobs = [(r, v, mc, s) for r in cfg.ranks for v, mc in model_configs(cfg, r).items() for s in range(cfg.seeds)]
    # rank 0 alone reads (and sets aside torn) result files; the others take its list
    todo = ranks.broadcast_from_main([i for i, job in enumerate(jobs) if _finished(cfg, job, folder) is None]
                                     if ranks.is_main() else None)
    if ranks.world_size() > 1:
        todo = ranks.my_share(todo, lambda i: _job_cost(jobs[i]))
    show = progress and ranks.is_main()
    try:
        for i in tqdm(todo, desc="lm: pretraining", disable=not show):
            _train_one(cfg, jobs[i], corpus, folder, device, show)
    finally:
        ranks.barrier()  # an error on one rank surfaces there; the others fail at this barrier
    records = [_finished(cfg, job, folder) for job in jobs]
    if any(rec is None for rec in records):
        missing = [f"{job[1]}-r{job[0]}-s{job[3]}" for job, rec in zip(jobs, records, strict=True) if rec is None]
        raise DLoRError(f"lm: no result for the runs {missing[:4]} after training them; see {folder / 'runs'}")
    rows = [{"variant": x["variant"], "budget_rank": x["budget_rank"], "seed": x["seed"], "params": x["params"],
             "projection_params": x["projection_params"], "n_embd": x["model_config"]["n_embd"],
             "mlp_hidden": x["model_config"]["mlp_hidden"], "rank": x["model_config"]["rank"] if x["variant"] != "dense" else "",
             "density": x["model_config"]["density"] or "", "val_nats_per_byte": x["val_loss"],
             "val_bits_per_byte": x["val_bits_per_byte"], "tokens_per_second": x["tokens_per_second"],
             "training_bytes": x["training_bytes"], "activation_bytes": x["activation_bytes"]} for x in records]
    write_csv(folder / "lm_runs.csv", rows)
    table = _table(records, cfg)
    write_csv(folder / "lm_summary.csv", table)
    _plot_steps(records, cfg, folder / "val_loss_vs_steps.png")
    _plot_params(table, folder / "val_loss_vs_params.png")
    baselines = {"uniform": math.log(VOCAB_SIZE), "unigram": unigram_loss(corpus)}
    summary = Summary(
        name="lm",
        title="Pretraining a byte-level GPT on Shakespeare (Appendix G): DLoR vs low-rank, sparse+low-rank and dense"
              + (f" [{budget} budget: {cfg.shrunk}]" if cfg.shrunk else ""),
        figures=["lm/val_loss_vs_steps.png", "lm/val_loss_vs_params.png"],
        data=["lm/lm_runs.csv", "lm/lm_summary.csv", "lm/summary.json"],
        claims=_claims(table, cfg, baselines),
        tables={"validation loss (median over seeds) per budget and variant": table},
        config=asdict(cfg) | {"budget": budget, "device": device, "corpus_bytes": corpus.num_bytes,
                              "corpus_files": len(corpus.files), "baselines_nats_per_byte": baselines},
        seconds=time.perf_counter() - t0,
    )
    write_json(folder / "summary.json", summary)
    return summary


def _table(records: list[dict], cfg: LMConfig) -> list[dict]:
    table = []
    for r in cfg.ranks:
        for v in VARIANTS:
            sel = [x for x in records if x["budget_rank"] == r and x["variant"] == v]
            if not sel:
                continue
            loss = np.array([x["val_loss"] for x in sel])
            q25, med, q75 = np.percentile(loss, [25, 50, 75])
            table.append({"budget_rank": r, "variant": v, "params": sel[0]["params"], "n_embd": sel[0]["model_config"]["n_embd"],
                          "seeds": len(sel), "val_nats_median": float(med),
                          "val_nats_q25": float(q25), "val_nats_q75": float(q75),
                          "val_bits_median": float(med) / math.log(2),
                          "tokens_per_second": float(np.median([x["tokens_per_second"] for x in sel])),
                          "training_MB": sel[0]["training_bytes"] / 2**20})
    return table


def _claims(table: list[dict], cfg: LMConfig, baselines: dict) -> list[Claim]:
    by = {(t["budget_rank"], t["variant"]): t for t in table}
    unigram = baselines["unigram"]
    learned = all(t["val_nats_median"] < unigram for t in table)
    not_learned = "" if learned else f"; not judged: some variant does not beat the unigram model ({unigram:.3f} nats/byte)"
    # 1. alpha I + U V^T against U V^T at the same width and rank
    wins, diffs = 0, []
    for r in cfg.ranks:
        d, lr_ = by[(r, "dlor")], by[(r, "lowrank")]
        spread = max(d["val_nats_q75"] - d["val_nats_q25"], lr_["val_nats_q75"] - lr_["val_nats_q25"])
        diff = lr_["val_nats_median"] - d["val_nats_median"]
        diffs.append(diff)
        wins += diff > max(cfg.margin, spread)
    n = len(cfg.ranks)
    verdict1 = "confirmed" if wins == n else ("partially confirmed" if wins else "not confirmed")
    measured1 = (f"DLoR below low-rank by more than max({cfg.margin} nats/byte, the seeds' IQR) at {wins}/{n} budgets; "
                 f"low-rank minus DLoR: {', '.join(f'{x:+.4f}' for x in diffs)} nats/byte (ranks {cfg.ranks})")
    # 2. the gap from low-rank to dense at matched parameters
    closed, with_gap = [], 0
    for r in cfg.ranks:
        gap = by[(r, "lowrank")]["val_nats_median"] - by[(r, "dense")]["val_nats_median"]
        if gap > cfg.margin:
            with_gap += 1
            closed.append((by[(r, "lowrank")]["val_nats_median"] - by[(r, "dlor")]["val_nats_median"]) / gap)
    if with_gap:
        held = sum(c >= cfg.gap_closed for c in closed)
        verdict2 = "confirmed" if held == with_gap else ("partially confirmed" if held else "not confirmed")
        measured2 = (f"DLoR closes {', '.join(f'{100 * c:.0f}%' for c in closed)} of the low-rank-to-dense gap "
                     f"(median {100 * float(np.median(closed)):.0f}%) at the {with_gap}/{n} budgets where dense beats "
                     f"low-rank by more than {cfg.margin} nats/byte; threshold {100 * cfg.gap_closed:.0f}%")
    else:
        verdict2 = "not confirmed"
        measured2 = f"no gap to close: dense beats low-rank by more than {cfg.margin} nats/byte at none of the {n} budgets"
    if not learned:
        verdict1 = verdict2 = "not judged"
    return [
        Claim("alpha I + U V^T beats U V^T at equal rank in pretraining", "Appendix G", measured1 + not_learned, verdict1),
        Claim(f"DLoR closes at least {100 * cfg.gap_closed:.0f}% of the gap from low-rank to dense at matched parameters",
              "Appendix G", measured2 + not_learned, verdict2),
    ]


def _plot_steps(records: list[dict], cfg: LMConfig, path: Path) -> None:
    fig, axes = plt.subplots(1, len(cfg.ranks), figsize=(4.2 * len(cfg.ranks), 3.6), squeeze=False, sharey=True)
    for ax, r in zip(axes[0], cfg.ranks, strict=True):
        for v in VARIANTS:
            sel = [x for x in records if x["budget_rank"] == r and x["variant"] == v]
            if not sel:
                continue
            steps = [h[0] for h in sel[0]["history"]]
            med = np.median([[h[1] for h in x["history"]] for x in sel], axis=0)
            ax.plot(steps, med, "o-", ms=3, color=COLOURS[v], label=f"{v} ({sel[0]['params']:,} params)")
        ax.set_title(f"budget of DLoR rank {r}")
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("validation loss (nats per byte)")
    save_figure(fig, path)


def _plot_params(table: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for v in VARIANTS:
        sel = sorted((t for t in table if t["variant"] == v), key=lambda t: t["params"])
        if not sel:
            continue
        x = [t["params"] for t in sel]
        y = [t["val_nats_median"] for t in sel]
        err = [[t["val_nats_median"] - t["val_nats_q25"] for t in sel], [t["val_nats_q75"] - t["val_nats_median"] for t in sel]]
        ax.errorbar(x, y, yerr=err, fmt="o-", capsize=3, color=COLOURS[v], label=v)
    ax.set_xscale("log")
    ax.set_xlabel("parameters (whole model)")
    ax.set_ylabel("validation loss (nats per byte; median, IQR over seeds)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)

