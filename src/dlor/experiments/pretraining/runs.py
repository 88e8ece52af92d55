"""The runs of ``dlor reproduce lm``: one folder per (model config, settings), trained side by side.

A run is named by a hash of its model config and training settings, so a finished run is found
again whatever stage asks for it, and a changed setting trains a new run instead of reusing an
old one. A ``Runner`` trains the unfinished runs of a list in ``workers`` processes of one
torch thread each, longest first, each resumable from its checkpoint; the processes start at the
first list that needs them and serve every later list of the same study, so a study of many
rounds pays their start-up (importing torch, loading the corpus) once. On a 2-core CPU this is
about as fast as one process of two threads, or as one batched computation
(``benchmarks/bench_lm_runs.py``); it keeps every run a plain [`train`][dlor.lm.train] run.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path

from tqdm.auto import tqdm

from ..._errors import DLoRError
from ...lm import GPTConfig, TrainSettings
from .._common import read_json_checked, write_json

__all__ = ["Run", "Runner", "run_dir", "finished", "train_all"]

Run = tuple[GPTConfig, TrainSettings]


def _key(run: Run) -> dict:
    return json.loads(json.dumps({"model_config": run[0].to_dict(), "settings": asdict(run[1])}))


def run_dir(folder: Path, run: Run) -> Path:
    cfg, s = run
    digest = hashlib.sha256(json.dumps(_key(run), sort_keys=True).encode()).hexdigest()[:10]
    return Path(folder) / "runs" / f"{cfg.variant}-d{cfg.n_embd}-lr{s.lr:.2e}-s{s.seed}-{digest}"


def finished(folder: Path, run: Run) -> dict | None:
    """The record of a finished ``run`` (its ``result.json``, written for these very configs), or None."""
    rec = read_json_checked(run_dir(folder, run) / "result.json", lambda d: isinstance(d, dict) and "val_loss" in d)
    if rec is None:
        return None
    key = _key(run)
    return rec if rec.get("model_config") == key["model_config"] and rec.get("settings") == key["settings"] else None


_CORPUS = None


def _init_worker(corpus_dir: str | None, threads: int) -> None:
    import torch

    global _CORPUS
    torch.set_num_threads(threads)
    _CORPUS = _load(corpus_dir)


def _load(corpus_dir: str | None):
    from ...lm.data import load_corpus

    return load_corpus(None if corpus_dir is None else text_files(corpus_dir))


def text_files(folder: str | Path) -> list[Path]:
    """The text files under ``folder`` (recursively; a file is text when it decodes as UTF-8).

    Raises:
        DLoRError: the folder does not exist, is empty, or holds no text file.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DLoRError(f"--corpus {folder}: no such folder; give a folder of text files")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if not files:
        raise DLoRError(f"--corpus {folder}: the folder is empty; put text files in it")
    text = []
    for p in files:
        try:
            data = p.read_bytes()
            data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if data.strip():
            text.append(p)
    if not text:
        raise DLoRError(f"--corpus {folder}: none of its {len(files)} files is non-empty UTF-8 text")
    return text


def _train(folder: str, run: Run, device: str, corpus=None) -> None:
    from ...lm import train
    from ...lm.trainer import DivergedError

    cfg, s = run
    out = run_dir(Path(folder), run)
    out.mkdir(parents=True, exist_ok=True)
    try:
        data = corpus if corpus is not None else _CORPUS
        assert data is not None  # set in each worker process, or given
        rec = train(cfg, s, data, device=device, run_dir=out, data_parallel=False)
        rec.pop("model")
    except DivergedError as err:  # a result of the sweep: this rate does not train this model
        rec = _key(run) | {"val_loss": None, "diverged": str(err)}
    write_json(out / "result.json", rec, every_rank=True)


class Runner:
    """Trains runs into ``folder`` (``runs/<name>/``), in ``workers`` processes on a CPU or in this
    process; use it as a context manager, which stops the processes when the study ends.

    ``corpus``: the corpus already loaded in this process (else ``corpus_dir`` is loaded when a run
    trains here); ``progress``: a progress bar per list of runs.
    """

    def __init__(self, folder: Path, *, corpus_dir: str | None, device: str, workers: int, progress: bool, corpus=None) -> None:
        self.folder, self.corpus_dir, self.device = Path(folder), corpus_dir, device
        self.workers, self.progress, self.corpus = workers, progress, corpus
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _processes(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(self.corpus_dir, 1)
            )
        return self._pool

    def train(self, runs: list[Run], desc: str) -> list[dict]:
        """Train the unfinished runs of ``runs`` and return every run's record, in order.

        Raises:
            DLoRError: a run left no result.
        """
        folder = self.folder
        todo = list({run_dir(folder, r): r for r in runs if finished(folder, r) is None}.values())
        todo.sort(key=lambda r: -r[1].steps * r[0].n_embd ** 2)  # the longest first: the processes finish together
        bar = tqdm(total=len(todo), desc=desc, disable=not self.progress or not todo)
        if self.workers > 1 and len(todo) > 1 and self.device == "cpu":
            pool = self._processes()
            for fut in [pool.submit(_train, str(folder), r, self.device) for r in todo]:
                fut.result()
                bar.update()
        else:
            if todo and self.corpus is None:
                self.corpus = _load(self.corpus_dir)
            for r in todo:
                _train(str(folder), r, self.device, self.corpus)
                bar.update()
        bar.close()
        records = [finished(folder, r) for r in runs]
        missing = [run_dir(folder, r).name for r, rec in zip(runs, records, strict=True) if rec is None]
        if missing:
            raise DLoRError(f"lm: no result for the runs {missing[:3]} after training them; see {folder / 'runs'}")
        return [rec for rec in records if rec is not None]


def train_all(
    folder: Path, runs: list[Run], *, corpus_dir: str | None, device: str, workers: int, progress: bool, desc: str, corpus=None
) -> list[dict]:
    """Train the unfinished runs of ``runs`` with a ``Runner`` of their own and return every run's
    record, in order."""
    with Runner(folder, corpus_dir=corpus_dir, device=device, workers=workers, progress=progress, corpus=corpus) as runner:
        return runner.train(runs, desc)
