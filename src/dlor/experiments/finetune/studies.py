"""The two sub-studies of ``dlor reproduce finetune`` on the catastrophic target: affine drift
(``finetune.drift``) and decoupled optimisation (``finetune.decoupled``). Every run's result is
written as soon as it finishes and reused by a later call with the same settings."""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path

import torch

from ...lm import load_corpus, load_model
from .._common import read_json_checked, write_json
from .._context import RunContext
from .data import load_target
from .decoupled import component_set, decomposed, independent
from .drift import READINGS, drift_run
from .methods import finetune, loss_on, trainable
from .runs import Job, run_all


def study_target(cfg) -> str:
    return "code" if "code" in cfg.targets else cfg.targets[0]


def _cached(path: Path, settings: dict, compute) -> dict:
    rec = read_json_checked(path, lambda d: isinstance(d, dict) and d.get("settings") == settings)
    if rec is None:
        rec = {"settings": settings, **compute()}
        write_json(path, rec, every_rank=True)
    return rec


def drift_study(cfg, folder: Path, source: Path, ctx: RunContext) -> list[dict]:
    """Every (reading, beta trainable, biases trainable, seed) of the drift study, one row each."""
    target = load_target(study_target(cfg), cfg.max_bytes)
    model = load_model(source)
    sched = cfg.schedule(cfg.drift_steps)
    rows = []
    for reading in READINGS:
        for train_beta in (False, True):
            for train_bias in (False, True):
                for seed in range(cfg.drift_seeds):
                    settings = json_ready(
                        {
                            "source": source.name,
                            "schedule": asdict(sched),
                            "rank": cfg.drift_rank,
                            "h": cfg.drift_h,
                            "lr": cfg.drift_lr,
                            "reading": reading,
                            "train_beta": train_beta,
                            "train_bias": train_bias,
                            "seed": seed,
                        }
                    )
                    name = f"{reading}-beta{'T' if train_beta else 'F'}-bias{'T' if train_bias else 'F'}-s{seed}.json"
                    options = {"reading": reading, "train_beta": train_beta, "train_bias": train_bias, "seed": seed}
                    rec = _cached(
                        folder / "drift" / name,
                        settings,
                        lambda options=options: asdict(
                            drift_run(
                                model,
                                target.train,
                                target.test,
                                sched,
                                rank=cfg.drift_rank,
                                h=cfg.drift_h,
                                lr=cfg.drift_lr,
                                **options,
                            )
                        ),
                    )
                    rows.append({k: v for k, v in rec.items() if k != "settings"})
    return rows


def json_ready(d: dict) -> dict:
    import json

    return json.loads(json.dumps(d))


def _joint(source, target, source_val, scheme: str, rank: int, lr: float, seed: int, sched) -> dict:
    """Joint fine-tuning of every component of the decomposed model, in this process on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each process of the independent run
    try:
        model = decomposed(source, scheme, rank)
        component_set(model, None)
        start = time.perf_counter()
        _, finite = finetune(model, target.train, sched, lr, seed)
        wall = time.perf_counter() - start
        rec = {"finite": finite, "wall_seconds": wall, "trainable": trainable(model)}
        if finite:
            rec |= {
                "val_loss": loss_on(model, target.val, sched),
                "test_loss": loss_on(model, target.test, sched, offset=10**6),
                "source_loss": loss_on(model, source_val, sched, offset=2 * 10**6),
            }
        return rec
    finally:
        torch.set_num_threads(threads)


def _best(recs: dict[float, dict]) -> float:
    return min(recs, key=lambda lr: recs[lr]["val_loss"] if recs[lr].get("finite") else math.inf)


def decoupled_study(cfg, folder: Path, source: Path, ctx: RunContext) -> list[dict]:
    """Joint and independent fine-tuning of each scheme's components, and LoRA at equal trainable
    parameters (rank = width), on the catastrophic target: one row per (scheme, mode, seed)."""
    tname = study_target(cfg)
    target = load_target(tname, cfg.max_bytes)
    model = load_model(source)
    source_val = load_corpus().val
    sched = cfg.schedule(cfg.decoupled_steps)
    base = {"source": source.name, "schedule": asdict(sched), "rank": cfg.decoupled_rank}
    rows = []
    for scheme in cfg.decoupled_schemes:
        tuning = {}
        for lr in cfg.decoupled_rates:
            settings = json_ready(base | {"scheme": scheme, "lr": lr, "seed": cfg.tuning_seed})
            path = folder / "decoupled" / f"{scheme}-joint-lr{lr:.2e}-tune.json"
            args = (model, target, source_val, scheme, cfg.decoupled_rank, lr, cfg.tuning_seed, sched)
            tuning[lr] = _cached(path, settings, lambda args=args: _joint(*args))
        lr = _best(tuning)
        for seed in range(cfg.decoupled_seeds):
            settings = json_ready(base | {"scheme": scheme, "lr": lr, "seed": seed})
            args = (model, target, source_val, scheme, cfg.decoupled_rank, lr, seed, sched)
            joint = _cached(folder / "decoupled" / f"{scheme}-joint-s{seed}.json", settings, lambda args=args: _joint(*args))
            spec = {
                "source": str(source),
                "target": tname,
                "max_bytes": cfg.max_bytes,
                "scheme": scheme,
                "rank": cfg.decoupled_rank,
                "lr": lr,
                "seed": seed,
                "schedule": asdict(sched),
            }
            indep = _cached(
                folder / "decoupled" / f"{scheme}-independent-s{seed}.json",
                json_ready(spec | {"source": source.name}),  # the model, not where this folder lies
                lambda spec=spec, seed=seed, scheme=scheme: independent(
                    spec, folder / "decoupled" / f"{scheme}-torchrun-s{seed}"
                ),
            )
            for mode, rec in (("joint", joint), ("independent", indep)):
                rows.append(
                    {
                        "scheme": scheme,
                        "mode": mode,
                        "seed": seed,
                        "lr": lr,
                        "trainable": joint["trainable"],
                        "test_loss": rec.get("test_loss"),
                        "source_loss": rec.get("source_loss"),
                        "wall_seconds": rec["wall_seconds"],
                    }
                )
    # LoRA at equal trainable parameters: rank min(m, n) = width on every projection
    r = cfg.width

    def lora_runs(jobs: list[Job]) -> list[dict]:
        return run_all(folder, jobs, sched, source=source, max_bytes=cfg.max_bytes, workers=cfg.workers,
                       progress=ctx.progress, desc="finetune: LoRA at equal parameters")  # fmt: skip

    tune_jobs = [Job(tname, "lora", r, lr, cfg.tuning_seed, "decoupled-tune") for lr in cfg.decoupled_rates]
    lr = _best({j.lr: x for j, x in zip(tune_jobs, lora_runs(tune_jobs), strict=True)})
    seed_jobs = [Job(tname, "lora", r, lr, s, "decoupled-seed") for s in range(cfg.decoupled_seeds)]
    for j, x in zip(seed_jobs, lora_runs(seed_jobs), strict=True):
        rows.append(
            {
                "scheme": "lora",
                "mode": f"rank {r}",
                "seed": j.seed,
                "lr": lr,
                "trainable": x["trainable"],
                "test_loss": x.get("test_loss"),
                "source_loss": x.get("source_loss"),
                "wall_seconds": x["seconds_per_step"] * sched.steps,
            }
        )
    return rows
