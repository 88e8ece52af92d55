"""What the caller of an experiment decides, not the experiment: where it trains, how many
processes it uses and whether it shows progress."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["RunContext", "with_context"]

C = TypeVar("C")


@dataclass(frozen=True)
class RunContext:
    """``device``: "cpu", "cuda" or "cuda:N"; ``workers``: processes that train side by side
    (None: the experiment's own default); ``progress``: progress bars on standard error."""

    device: str = "cpu"
    workers: int | None = None
    progress: bool = True


def with_context(cfg: C, ctx: RunContext) -> C:
    """``cfg`` with the context's device and workers in the fields of those names, where it has them.

    The config records where and how it ran; ``dataclasses.replace`` validates the result once more.
    """
    fields: dict[str, Any] = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}  # type: ignore[arg-type]
    changes: dict[str, Any] = {}
    if "device" in fields and ctx.device != fields["device"]:
        changes["device"] = ctx.device
    if "workers" in fields and ctx.workers is not None and ctx.workers != fields["workers"]:
        changes["workers"] = ctx.workers
    return dataclasses.replace(cfg, **changes) if changes else cfg  # type: ignore[type-var]
