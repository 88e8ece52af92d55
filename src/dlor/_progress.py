"""Progress bars: tqdm's where it is installed (the ``experiments`` extra), none otherwise.

The library's core needs only torch, NumPy, SciPy and safetensors; a training loop that reports
progress asks for a bar here and gets a silent stand-in when tqdm is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["progress_bar"]


class _Silent:
    """What a bar does when there is no tqdm: iterate, and ignore updates."""

    def __init__(self, iterable: Iterable | None = None, **_: Any) -> None:
        self._iterable = iterable if iterable is not None else ()

    def __iter__(self):
        return iter(self._iterable)

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(iterable: Iterable | None = None, **kwargs: Any):
    """``tqdm.auto.tqdm(iterable, **kwargs)``, or a silent bar with the same methods without tqdm."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Silent(iterable, **kwargs)
    return tqdm(iterable, **kwargs)
