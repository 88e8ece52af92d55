"""Diagonal-plus-Low-Rank (DLoR) neural networks (arXiv 2605.05659).

The public API is re-exported here; implementation modules are private.
"""

from ._errors import DLoRError as DLoRError
from ._errors import DTypeError as DTypeError
from ._errors import NonFiniteError as NonFiniteError
from ._errors import RankError as RankError
from ._errors import ShapeError as ShapeError
from ._errors import SingularMatrixError as SingularMatrixError
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

__version__ = "0.1.0"

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
