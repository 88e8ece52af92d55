"""Result files that a later run reads back: a torn or corrupt one is set aside, never fatal."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["set_aside", "temporary_beside", "replace_atomically"]


def temporary_beside(path: Path, suffix: str = "") -> Path:
    """A new, unique temporary file in ``path``'s folder (``.NAME.XXXXXXXX.tmp``), for writing a
    result there and then ``os.replace``-ing it onto ``path``: two processes writing the same
    result never share a temporary file, and the rename stays on one file system."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f"{suffix}.tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def replace_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Write ``path`` through ``write(tmp)`` into a temporary file beside it, then rename it onto
    ``path``: a reader never sees half a file, and a failed write leaves nothing behind (the
    temporary file is removed and the error raised again)."""
    path = Path(path)
    tmp = temporary_beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def set_aside(path: Path, why: str) -> Path:
    """Move a torn or corrupt file to ``NAME.corrupt`` (``NAME.corrupt.1``, ... when taken), say
    so in one line on stderr, and return the new path; the caller recomputes what it held.

    A full disk, a crash during a copy or a bad sync can truncate a finished run's files; the
    next run must lose only that file, not stop with a traceback.
    """
    path = Path(path)
    target, i = path.with_name(path.name + ".corrupt"), 0
    while target.exists():
        i += 1
        target = path.with_name(f"{path.name}.corrupt.{i}")
    os.replace(path, target)
    print(f"note: {path} is unreadable ({why}); moved it to {target.name} and recomputing it", file=sys.stderr, flush=True)
    return target
