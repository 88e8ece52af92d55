"""Diagonal-plus-Low-Rank (DLoR) neural networks (arXiv 2605.05659).

The public API is re-exported here; implementation modules are private. Names that need torch load
on first use, so that ``import dlor`` (and the ``dlor`` command's start-up) does not import torch
until something asks for it.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from ._errors import DLoRError as DLoRError
from ._errors import DTypeError as DTypeError
from ._errors import NonFiniteError as NonFiniteError
from ._errors import RankError as RankError
from ._errors import ShapeError as ShapeError
from ._errors import SingularMatrixError as SingularMatrixError

if TYPE_CHECKING:
    from ._matrix import DLoR as DLoR
    from ._matrix import dlor_linear as dlor_linear
    from .decompose import Certificate as Certificate
    from .decompose import additive_decompose as additive_decompose
    from .decompose import embed_square as embed_square
    from .decompose import hybrid_decompose as hybrid_decompose
    from .decompose import multiplicative_decompose as multiplicative_decompose
    from .decompose import nearest_dlor as nearest_dlor
    from .decompose import spectral_contributions as spectral_contributions
    from .nn import adapt as adapt
    from .nn import dlorize as dlorize
    from .nn import load_checkpoint as load_checkpoint
    from .nn import save_checkpoint as save_checkpoint

# public name -> the module that defines it, imported on first access
_LAZY = {
    "DLoR": "._matrix",
    "dlor_linear": "._matrix",
    "Certificate": ".decompose",
    "additive_decompose": ".decompose",
    "embed_square": ".decompose",
    "hybrid_decompose": ".decompose",
    "multiplicative_decompose": ".decompose",
    "nearest_dlor": ".decompose",
    "spectral_contributions": ".decompose",
    "adapt": ".nn",
    "dlorize": ".nn",
    "load_checkpoint": ".nn",
    "save_checkpoint": ".nn",
}
# subpackages, reachable as attributes after ``import dlor`` as they always were
_SUBPACKAGES = ("construct", "decompose", "experiments", "expressivity", "lm", "nn", "peft", "rank1", "train")

try:
    __version__ = version("dlor")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'dlor' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBPACKAGES))


__all__ = [
    "Certificate",
    "DLoR",
    "DLoRError",
    "DTypeError",
    "NonFiniteError",
    "RankError",
    "ShapeError",
    "SingularMatrixError",
    "adapt",
    "additive_decompose",
    "dlor_linear",
    "dlorize",
    "load_checkpoint",
    "save_checkpoint",
    "embed_square",
    "hybrid_decompose",
    "multiplicative_decompose",
    "nearest_dlor",
    "spectral_contributions",
]
