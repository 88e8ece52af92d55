"""The target domains of the fine-tuning study, from text already on every machine that runs dlor.

* ``prose`` (a mild shift): English technical prose, the Python Language Reference and Library
  topics that CPython ships for ``help()`` (``pydoc_data.topics``, about 0.46 MB), in the sorted
  order of their keys. English like the source corpus, four centuries later and about programming.
* ``code`` (a catastrophic shift): Python source code, the ``.py`` files at the top of the
  standard library (``sysconfig.get_paths()["stdlib"]``), in sorted order, up to ``max_bytes``.

Splits, fixed before any run: each document (a topic or a file) gives its first 80% of bytes to
the training split, the next 10% to the validation split (learning rates are chosen on it) and
its last 10% to the test split (the verdicts use it). Tokens are bytes, as in the source model.
"""

from __future__ import annotations

import sysconfig
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..._errors import DLoRError

TARGETS = ("prose", "code")
SHIFT = {"prose": "mild", "code": "catastrophic"}
TRAIN_FRACTION, VAL_FRACTION = 0.8, 0.1


@dataclass
class Target:
    """One target domain's three splits (``uint8`` byte tensors) and where they came from."""

    name: str
    train: Tensor
    val: Tensor
    test: Tensor
    documents: int
    source: str

    def split(self, which: str) -> Tensor:
        return {"train": self.train, "val": self.val, "test": self.test}[which]


def _documents(name: str, max_bytes: int) -> tuple[list[bytes], str]:
    if name == "prose":
        try:
            from pydoc_data.topics import topics
        except ImportError:
            raise DLoRError(
                "the prose target needs pydoc_data, which this Python lacks (some distributions split it "
                "into a python3-doc package); install it, or run with --set targets=code"
            ) from None
        docs = [topics[k].encode("utf-8") for k in sorted(topics)]
        source = f"pydoc_data.topics ({len(docs)} topics)"
    elif name == "code":
        folder = Path(sysconfig.get_paths()["stdlib"])
        files = sorted(folder.glob("*.py"))
        if not files:
            raise DLoRError(f"no .py files in the standard library folder {folder}; the code target needs them")
        docs, total = [], 0
        for f in files:
            data = f.read_bytes()
            if total + len(data) > max_bytes and docs:
                break
            docs.append(data)
            total += len(data)
        source = f"{len(docs)} files of {folder} ({files[0].name} to {files[len(docs) - 1].name})"
    else:
        raise DLoRError(f"unknown target {name!r}; the targets are {', '.join(TARGETS)}")
    return docs, source


def load_target(name: str, max_bytes: int = 2_000_000) -> Target:
    """The target ``name`` (``"prose"`` or ``"code"``), split as the module docstring says."""
    docs, source = _documents(name, max_bytes)
    parts: dict[str, list[bytes]] = {"train": [], "val": [], "test": []}
    for d in docs:
        a, b = round(TRAIN_FRACTION * len(d)), round((TRAIN_FRACTION + VAL_FRACTION) * len(d))
        parts["train"].append(d[:a])
        parts["val"].append(d[a:b])
        parts["test"].append(d[b:])
    tensors = {k: torch.frombuffer(bytearray(b"".join(v)), dtype=torch.uint8) for k, v in parts.items()}
    return Target(name, tensors["train"], tensors["val"], tensors["test"], len(docs), source)
