"""Sharing an experiment's groups among the processes that ``torchrun`` starts.

``torchrun --nproc_per_node N [--nnodes M --rdzv_endpoint HOST:PORT] -m dlor reproduce ...``
runs the same command in every process (rank). Each rank trains its share of the groups by a
fixed assignment (``my_share``) and writes their files into the one output folder (shared
storage across machines); rank 0 waits at a barrier for all of them and alone writes the
figures, tables and the report. The process group uses gloo whatever the training device:
it only carries the list of groups to train and the barrier, a few bytes, so NCCL would buy
nothing. Without torchrun (no ``WORLD_SIZE`` > 1) every function here is a no-op.
"""

from __future__ import annotations

import os
from datetime import timedelta

__all__ = [
    "rank",
    "world_size",
    "is_main",
    "rank_on_node",
    "local_world_size",
    "ensure_process_group",
    "broadcast_from_main",
    "barrier",
    "my_share",
    "close",
]

# a rank may wait for the others' share of a paper-budget sweep: hours, not gloo's 30 minutes
_TIMEOUT = timedelta(days=7)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def rank_on_node() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def local_world_size() -> int:
    return int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size())))


def is_main() -> bool:
    """True in the process that writes results: rank 0, or the only process."""
    return rank() == 0


def ensure_process_group() -> None:
    import torch.distributed as dist  # torch loads with the first process group, not with the CLI

    if world_size() > 1 and not dist.is_initialized():
        dist.init_process_group("gloo", timeout=_TIMEOUT)


def broadcast_from_main(obj):
    """Rank 0's ``obj`` on every rank (``obj`` itself without torchrun)."""
    import torch.distributed as dist  # torch loads with the first process group, not with the CLI

    if world_size() <= 1:
        return obj
    ensure_process_group()
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    import torch.distributed as dist  # torch loads with the first process group, not with the CLI

    if world_size() > 1:
        ensure_process_group()
        dist.barrier()


def my_share(items: list, cost, ranks: int | None = None, me: int | None = None) -> list:
    """The items of rank ``me`` (default: this process) among ``ranks``: the longest first, each
    to the rank with the least work so far (ties: the lowest rank). The assignment depends only
    on ``items`` and their costs, so every rank computes the same one without talking."""
    ranks = world_size() if ranks is None else ranks
    me = rank() if me is None else me
    load, mine = [0.0] * ranks, []
    for item in sorted(items, key=lambda it: -cost(it)):  # stable: equal costs keep their order
        target = min(range(ranks), key=lambda r: (load[r], r))
        load[target] += cost(item)
        if target == me:
            mine.append(item)
    return mine


def close() -> None:
    import torch.distributed as dist  # torch loads with the first process group, not with the CLI

    if dist.is_initialized():
        dist.destroy_process_group()
