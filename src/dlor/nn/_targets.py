"""Which ``nn.Linear`` modules of a model a transformation targets: include and exclude patterns
(globs, or regexes prefixed by ``"re:"``) matched against module names, as ``dlorize`` and
``adapt`` take them."""

from __future__ import annotations

import fnmatch
import re

from torch import nn

from .._errors import DLoRError

__all__ = ["matches", "select_linear", "replace_module"]


def matches(name: str, pattern: str) -> bool:
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], name) is not None
    return fnmatch.fnmatchcase(name, pattern)


def select_linear(model: nn.Module, include: str | list[str] | None, exclude: str | list[str] | None) -> list[str]:
    include = [include] if isinstance(include, str) else list(include or ["*"])
    exclude = [exclude] if isinstance(exclude, str) else list(exclude or [])
    named = dict(model.named_modules())
    linear = {n for n, m in named.items() if isinstance(m, nn.Linear) and n}
    chosen = []
    for pat in include:
        hits = [n for n in named if n and matches(n, pat)]
        lin_hits = [n for n in hits if n in linear]
        if not hits:
            raise DLoRError(f"include pattern {pat!r} matches no module; module names look like {sorted(linear)[:5]}")
        if not lin_hits:
            raise DLoRError(f"include pattern {pat!r} matches {hits[:3]}, which are not nn.Linear modules")
        chosen += [n for n in lin_hits if n not in chosen]
    for pat in exclude:
        if not any(matches(n, pat) for n in named if n):
            raise DLoRError(f"exclude pattern {pat!r} matches no module")
    keep = {n for n in chosen if not any(matches(n, p) for p in exclude)}
    return [n for n in named if n in keep]  # in the model's own order


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
