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

__version__ = "0.1.0"

__all__ = [
    "DLoR",
    "DLoRError",
    "DTypeError",
    "NonFiniteError",
    "RankError",
    "ShapeError",
    "SingularMatrixError",
    "dlor_linear",
]
