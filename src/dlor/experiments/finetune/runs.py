"""The source model of the fine-tuning study, and its fine-tuning runs side by side.

The source model is a dense byte-level GPT pretrained on the Shakespeare corpus by ``dlor.lm``,
trained once per config and cached in the run folder as ``source-<hash>.safetensors`` (the hash
of its model config and settings), then reused by every run and every later call.

A fine-tuning run is a ``Job``: one method, rank, learning rate and seed on one target. Its
result is written to ``runs/<name>.json`` as soon as it finishes (with the name of the source
model it started from: a run from another source model is not reused), so an interrupted study keeps
every finished run and resumes where it stopped. ``run_all`` runs the unfinished jobs in
``workers`` processes of one torch thread each.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..._errors import DLoRError
from ...lm import GPTConfig, TrainSettings, load_corpus, load_model, save_model
from .._common import read_json_checked, write_json
from .data import load_target
from .methods import Schedule, adapted, finetune, loss_on, trainable


def _digest(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def source_model(folder: Path, cfg: GPTConfig, s: TrainSettings, progress: bool) -> tuple[Path, dict]:
    """The cached source model for ``(cfg, s)`` (trained first when missing) and its record."""
    from ...lm import train

    key = {"model_config": cfg.to_dict(), "settings": asdict(s)}
    path = folder / f"source-{_digest(key)}.safetensors"
    record_path = path.with_suffix(".json")
    record = read_json_checked(record_path, lambda d: isinstance(d, dict) and d.get("key") == json.loads(json.dumps(key)))
    if path.exists() and record is not None:
        return path, record
    rec = train(cfg, s, load_corpus(), data_parallel=False, progress=progress)
    save_model(rec.pop("model"), path)
    record = {"key": key, "val_loss": rec["val_loss"], "params": rec["params"], "train_seconds": rec["train_seconds"]}
    write_json(record_path, record, every_rank=True)
    return path, record


@dataclass(frozen=True)
class Job:
    target: str
    method: str
    rank: int  # 0 for none and full
    lr: float  # 0 for none
    seed: int
    stage: str  # "tune" (scored on the validation split) or "seed" (a fresh seed at the chosen rate)

    @property
    def name(self) -> str:
        return f"{self.target}-{self.method}-r{self.rank}-lr{self.lr:.2e}-s{self.seed}-{self.stage}"


_STATE: dict = {}
SPAWN_AT_LEAST = 4  # fewer jobs run in this process: starting the worker processes costs more than they save


def _init_worker(source: str, max_bytes: int, threads: int) -> None:
    torch.set_num_threads(threads)
    _STATE.clear()
    _STATE["source"] = load_model(source)
    _STATE["source_path"] = source
    _STATE["max_bytes"] = max_bytes


def _target(name: str):
    key = ("target", name)
    if key not in _STATE:
        _STATE[key] = load_target(name, _STATE["max_bytes"])
    return _STATE[key]


def _source_val():
    if "source_val" not in _STATE:
        _STATE["source_val"] = load_corpus().val
    return _STATE["source_val"]


def run_job(folder: str, job: Job, sched: Schedule) -> dict:
    """Fine-tune, evaluate and write one job's result (in a worker, or in this process)."""
    target = _target(job.target)
    torch.manual_seed(job.seed)
    model = adapted(_STATE["source"], job.method, job.rank)
    seconds, finite = finetune(model, target.train, sched, job.lr, job.seed) if job.method != "none" else (0.0, True)
    rec = asdict(job) | {"source": Path(_STATE["source_path"]).name, "schedule": asdict(sched), "trainable": trainable(model)}
    rec |= {"seconds_per_step": seconds, "finite": finite}
    if finite:
        rec |= {
            "val_loss": loss_on(model, target.val, sched),
            "test_loss": loss_on(model, target.test, sched, offset=10**6),
            "source_loss": loss_on(model, _source_val(), sched, offset=2 * 10**6),
        }
    write_json(Path(folder) / "runs" / f"{job.name}.json", rec, every_rank=True)
    return rec


def finished(folder: Path, job: Job, sched: Schedule, source: Path) -> dict | None:
    """The result of ``job`` fine-tuned from the source model ``source`` (named by the hash of its
    config) under ``sched``, or None."""
    want = json.loads(json.dumps(asdict(sched)))
    return read_json_checked(
        folder / "runs" / f"{job.name}.json",
        lambda d: isinstance(d, dict) and d.get("schedule") == want and d.get("source") == source.name and "finite" in d,
    )


def run_all(
    folder: Path, jobs: list[Job], sched: Schedule, *, source: Path, max_bytes: int, workers: int, progress: bool, desc: str
) -> list[dict]:
    """Every job's result, in order; the unfinished ones run first (in ``workers`` processes)."""
    todo = list({j.name: j for j in jobs if finished(folder, j, sched, source) is None}.values())
    bar = tqdm(total=len(todo), desc=desc, disable=not progress or not todo, leave=False)
    if workers > 1 and len(todo) >= SPAWN_AT_LEAST:
        with ProcessPoolExecutor(
            workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(str(source), max_bytes, 1)
        ) as pool:
            for fut in [pool.submit(run_job, str(folder), j, sched) for j in todo]:
                fut.result()
                bar.update()
    elif todo:
        threads = torch.get_num_threads()
        if _STATE.get("source_path") != str(source):
            _init_worker(str(source), max_bytes, threads)
        for j in todo:
            run_job(str(folder), j, sched)
            bar.update()
    bar.close()
    records = [finished(folder, j, sched, source) for j in jobs]
    missing = [j.name for j, r in zip(jobs, records, strict=True) if r is None]
    if missing:
        raise DLoRError(f"finetune: no result for {missing[:3]} after running them; see {folder / 'runs'}")
    return [r for r in records if r is not None]
