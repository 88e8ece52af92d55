"""Train the groups of a sweep, one after another or in worker processes.

Every group is written to ``<folder>/<group>.json`` as soon as it finishes and checkpointed on
the way (``<group>.ckpt``), so a sweep stopped at any point (Ctrl-C, kill) resumes where it
stopped. With ``workers > 1`` the groups are shared out to that many processes, each with
``cores // workers`` threads, largest groups first; Ctrl-C or a worker's error stops all of
them at once (an unfinished group loses at most the epochs since its last checkpoint).

One group (10 models of width 16) is too small to keep several threads busy: its kernels are
short and every parallel loop ends in a barrier. Independent single-threaded processes do
better. Measured on the 2-core development machine, with an empty compile cache, two workers
against one process with two threads: 12 compiled groups x 3,000 epochs took 108.6 s against
147.0 s (compiles run side by side too), and the quick-budget sweep (eager) 113.2 s against
209.5 s.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .._errors import DLoRError
from ..train import GroupSpec, GroupTrainer, TrainConfig
from . import _ranks as ranks
from ._common import read_json_checked, write_json
from ._data import FREQUENCY, sawtooth_data
from ._tuning import validation_split

__all__ = ["train_groups", "available_cores", "read_group_rows"]

_progress_queue = None  # set in each worker process
_parent_pid = None  # the sweep's main process, as each worker saw it at start


def _member_data(split: str, split_seed: int, frequency: float, validation: float | None) -> dict[str, torch.Tensor]:
    data = sawtooth_data(split=split, seed=split_seed, frequency=frequency)
    if validation is None:
        return data
    # choosing a rate: the model fits part of the training set and is scored on the rest
    fit, val = validation_split(len(data["x_train"]), validation, seed=split_seed)
    x, y = data["x_train"], data["y_train"]
    return {"x_train": x[fit], "y_train": y[fit], "x_test": x[val], "y_test": y[val]}


def group_data(group: GroupSpec) -> dict[str, torch.Tensor]:
    """The sawtooth data of each model of ``group``: its ``split``, ``split_seed`` and
    ``frequency`` come from ``group.member_extra`` (default: the random split of seed 0 at
    lambda = 3.7). A member with ``validation`` (a fraction) trains on the rest of its training
    set and is scored on that fraction of it, never on the test points (``_tuning``). One shared
    ``(n, 1)`` set when all models agree, else ``(B, n, 1)``, one per model."""
    members = group.member_extra or [{}] * len(group.seeds)
    keys = [
        (m.get("split", "random"), m.get("split_seed", 0), m.get("frequency", FREQUENCY), m.get("validation")) for m in members
    ]
    sets = {key: _member_data(*key) for key in dict.fromkeys(keys)}
    names = ("x_train", "y_train", "x_test", "y_test")
    if len(sets) == 1:
        return {n: next(iter(sets.values()))[n] for n in names}
    return {n: torch.stack([sets[key][n] for key in keys]) for n in names}


def _config_of(group: GroupSpec, tcfg) -> TrainConfig:
    return tcfg[group.name] if isinstance(tcfg, dict) else tcfg


def _train_one(group: GroupSpec, tcfg, dtype: str, folder: Path, on_epoch, device: str = "cpu") -> None:
    data = group_data(group)
    checkpoint = folder / f"{group.name}.ckpt"
    trainer = GroupTrainer(group, _config_of(group, tcfg), dtype=getattr(torch, dtype), checkpoint=checkpoint, device=device)
    start = time.perf_counter()
    result = trainer.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"], on_epoch=on_epoch)
    for r in result:
        r["group_seconds"] = time.perf_counter() - start
        if ranks.world_size() > 1:
            r["rank"] = ranks.rank()  # which torchrun process trained it
    write_json(folder / f"{group.name}.json", result, every_rank=True)
    checkpoint.unlink(missing_ok=True)


def _init_worker(threads: int, progress_queue) -> None:
    global _progress_queue, _parent_pid
    torch.set_num_threads(threads)
    _progress_queue = progress_queue
    _parent_pid = os.getppid()


def _worker(group: GroupSpec, tcfg, dtype: str, folder: Path, device: str) -> str:
    pending = 0

    def on_epoch(n: int) -> None:
        nonlocal pending
        pending += n
        if pending >= 500:
            if os.getppid() != _parent_pid:  # the main process was killed: do not train on as an orphan
                raise SystemExit(f"dlor sweep worker: the main process is gone; stopping {group.name}")
            assert _progress_queue is not None  # set by _init_worker
            _progress_queue.put(pending)
            pending = 0

    _train_one(group, tcfg, dtype, folder, on_epoch, device)
    if pending and _progress_queue is not None:
        _progress_queue.put(pending)
    return group.name


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _cost(group: GroupSpec) -> int:
    """Relative cost of a group (deep/wide: about k; scaled by the models it trains together)."""
    return (group.k if group.k is not None else 1) * len(group.seeds)


def train_groups(
    folder: Path,
    groups: list[GroupSpec],
    tcfg: TrainConfig | dict[str, TrainConfig],
    dtype: str,
    workers: int = 1,
    progress: bool = True,
    device: str = "cpu",
) -> None:
    """Train every group of ``groups`` whose JSON file is not in ``folder`` yet, on ``device``.

    ``tcfg``: the trainer settings of every group, or a dict ``{group.name: TrainConfig}``.
    Under ``torchrun`` each rank trains its share (``dlor.experiments._ranks.my_share``) with
    up to ``workers`` processes (at most its share of this machine's cores), and every rank
    returns once all groups are written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    # rank 0 alone reads (and sets aside torn) group files; the others take its list
    names = ranks.broadcast_from_main([g.name for g in groups if read_group_file(folder, g) is None] if ranks.is_main() else None)
    names = set(names)
    todo = [g for g in groups if g.name in names]
    if ranks.world_size() > 1:
        todo = ranks.my_share(todo, _cost)
        workers = min(workers, max(1, available_cores() // ranks.local_world_size()))
    try:
        _train_todo(folder, todo, tcfg, dtype, workers, progress and ranks.is_main(), device)
    finally:
        ranks.barrier()  # an error on one rank surfaces there; the others fail at this barrier


def _train_todo(folder: Path, todo: list[GroupSpec], tcfg, dtype: str, workers: int, progress: bool, device: str) -> None:
    total = sum(_config_of(g, tcfg).epochs for g in todo)
    bar = tqdm(total=total, desc="training sweep", unit="epoch", disable=not progress)
    try:
        workers = min(workers, len(todo))
        if workers <= 1:
            for g in todo:
                bar.set_postfix_str(g.name)
                _train_one(g, tcfg, dtype, folder, bar.update, device)
            return
        context = multiprocessing.get_context("spawn")
        progress_queue = context.Queue()
        threads = max(1, available_cores() // workers)
        pool = context.Pool(workers, initializer=_init_worker, initargs=(threads, progress_queue))
        try:
            pending = [pool.apply_async(_worker, (g, tcfg, dtype, folder, device)) for g in sorted(todo, key=_cost, reverse=True)]
            while pending:
                pending[0].wait(0.5)
                _drain(progress_queue, bar)
                for result in [r for r in pending if r.ready()]:
                    pending.remove(result)
                    bar.set_postfix_str(f"{result.get()} done")  # re-raises a worker's error
        except BaseException:
            # Ctrl-C, a worker's error, ...: stop every worker now rather than after the queue
            # runs dry; unfinished groups resume from their last checkpoint on the next run
            pool.terminate()
            raise
        finally:
            pool.close()
            pool.join()
        _drain(progress_queue, bar)
    finally:
        bar.close()


def read_group_file(folder: Path, group: GroupSpec) -> list[dict] | None:
    """The rows of ``folder/<group>.json``, or None when the group has not finished; a torn
    file, or one without a row per seed, is set aside so that the group trains again."""

    def valid(rows) -> bool | str:
        if not (isinstance(rows, list) and all(isinstance(r, dict) and "seed" in r and "test_mse_final" in r for r in rows)):
            return False
        if len(rows) != len(group.seeds):
            return f"a whole file written under other settings: {len(rows)} seeds, this run has {len(group.seeds)}"
        return True

    return read_json_checked(folder / f"{group.name}.json", valid)


def read_group_rows(folder: Path, groups: list[GroupSpec]) -> list[dict]:
    """The per-model rows of finished ``groups``, in their order, from ``folder/<group>.json``."""
    rows = []
    for g in groups:
        got = read_group_file(folder, g)
        if got is None:
            raise DLoRError(f"group {g.name} has no valid results in {folder}; rerun the experiment to train it")
        rows += got
    return rows


def validation_scorer(
    runs: Path, make_group, seeds: list[int], tcfg: TrainConfig, dtype: str, rows: list[dict], **train
) -> Callable:
    """The ``score`` that `dlor.experiments._tuning.tune` asks for, for groups trained here.

    ``make_group(cell, seeds, lrs, tag)`` builds the group of one cell, one model per entry of
    ``seeds`` at the rate beside it in ``lrs`` (its members scored on validation points:
    ``validation`` in their ``member_extra``). Each round trains every rate asked for with each
    of the tuning ``seeds``, in groups tagged ``tune1``, ``tune2``, ... by round, under ``runs``
    (finished ones are reused), appends their rows to ``rows`` and scores each model by
    ``test_mse_final``, its MSE on the validation points. ``train``: ``workers``, ``progress``,
    ``device`` of ``train_groups``.
    """
    rounds = [0]

    def score(pairs: list) -> dict:
        rounds[0] += 1
        by_cell: dict = {}
        for cell, rate in pairs:
            by_cell.setdefault(cell, []).append(rate)
        groups = [
            make_group(cell, seeds * len(rates), [r for r in rates for _ in seeds], f"tune{rounds[0]}")
            for cell, rates in by_cell.items()
        ]
        train_groups(runs, groups, tcfg, dtype, **train)
        out: dict = {}
        for cell, group in zip(by_cell, groups, strict=True):
            got = read_group_file(runs, group) or []
            rows.extend(got)
            for r in got:
                out.setdefault((cell, r["lr"]), []).append(r["test_mse_final"])
        return out

    return score


def _drain(progress_queue, bar) -> None:
    while True:
        try:
            bar.update(progress_queue.get_nowait())
        except queue_module.Empty:
            return
