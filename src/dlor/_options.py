"""Command-line option checks shared by every entry point: bounded numbers, output paths, memory.

Each check raises ``argparse.ArgumentTypeError`` (as an argparse ``type=``) or
[`DLoRError`][dlor.DLoRError] with one line that names the option, the value and the allowed range,
so that every entry point answers a bad value with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ._errors import DLoRError

__all__ = [
    "OneLineParser",
    "bounded_int",
    "bounded_float",
    "scale_float",
    "check_output_path",
    "check_output_folder",
    "refuse_existing",
    "default_output",
    "check_memory",
    "MAX_SEED",
]

MAX_SEED = 2**63 - 1  # torch.manual_seed takes a signed 64-bit integer


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (``PROG: error: ...``), exit 2."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def bounded_int(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[lo, hi]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer in [{lo}, {hi}], got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer in [{lo}, {hi}], got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def bounded_float(lo: float = 0.0, hi: float = math.inf, *, lo_open: bool = True) -> Callable[[str], float]:
    """An argparse ``type``: a finite float in ``(lo, hi]`` (``[lo, hi]`` when ``lo_open`` is False)."""
    shown = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a finite number in {shown}, got {text!r}") from None
        if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
            raise argparse.ArgumentTypeError(f"must be a finite number in {shown}, got {value:g}")
        return value

    parse.__name__ = "number"
    return parse


def scale_float(limit: float = 1e6) -> Callable[[str], float]:
    """An argparse ``type``: 0, or a finite number whose magnitude is in ``[1 / limit, limit]`` (a
    coefficient that is raised to powers, such as a decomposition's ``alpha``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be 0 or a number with magnitude in [{1 / limit:g}, {limit:g}], got {text!r}"
            ) from None
        if not (value == 0 or (math.isfinite(value) and 1 / limit <= abs(value) <= limit)):
            raise argparse.ArgumentTypeError(f"must be 0 or a number with magnitude in [{1 / limit:g}, {limit:g}], got {value:g}")
        return value

    parse.__name__ = "number"
    return parse


def check_output_path(text: str, option: str = "--out", inputs: tuple[str, ...] = (), suffix: str | None = None) -> Path:
    """The output file ``text``, checked before any work: a file name (not empty, not a folder),
    in a folder that exists and is writable, not one of ``inputs`` (links resolved), and ending
    in ``suffix`` when one is given."""
    if not text or not text.strip():
        raise DLoRError(f"{option} is empty; give a file name")
    path = Path(text)
    if path.is_dir():
        raise DLoRError(f"{option} {text} is a folder; give a file name inside it")
    if suffix is not None and path.suffix.lower() != suffix:
        raise DLoRError(f"{option} {text} must end in {suffix} (the file is written as {suffix[1:]})")
    for other in inputs:
        if Path(other).exists() and path.exists() and path.resolve() == Path(other).resolve():
            raise DLoRError(f"{option} {text} is the input file; write the result to another file")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DLoRError(f"{option} {text}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise DLoRError(f"{option} {text}: cannot write there (permission denied); choose a writable folder")
    return path


def refuse_existing(path: Path, force: bool, option: str = "--out") -> Path:
    """``path``, unless a file is there already and ``force`` is False: a finished result is never
    overwritten without being asked."""
    if path.exists() and not force:
        raise DLoRError(f"{option} {path} exists; pass --force to overwrite it, or choose another {option}")
    return path


def default_output(input_path: str, tag: str) -> str:
    """The default output of a command on ``input_path``: ``INPUT.TAG.safetensors``, the input's
    suffix kept, so inputs that differ only in their suffix (``A.npy``, ``A.safetensors``) never
    share an output."""
    return f"{input_path}.{tag}.safetensors"


def check_output_folder(text: str, option: str = "--out") -> Path:
    """An output folder: not empty, not a file, and writable (created when missing)."""
    if not text or not text.strip():
        raise DLoRError(f"{option} is empty; give a folder")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise DLoRError(f"{option} {text} exists and is not a folder")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise DLoRError(f"{option} {text}: cannot write there (permission denied); choose a writable folder")
    return path


def physical_memory() -> int:
    """Bytes of memory this machine has (a large number where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return sys.maxsize


def check_memory(option: str, nbytes: float, way_out: str = "use a smaller value") -> None:
    """Refuse a request whose working memory (``nbytes``, an estimate) exceeds half of this machine's."""
    limit = physical_memory() / 2
    if nbytes > limit:
        raise DLoRError(
            f"{option} needs about {nbytes / 2**30:.3g} GiB, more than half of this machine's "
            f"{2 * limit / 2**30:.3g} GiB; {way_out}"
        )
