"""Exact DLoR decompositions of dense matrices (Section 4): pure functions returning DLoR lists."""

from ._additive import additive_decompose as additive_decompose
from ._additive import embed_square as embed_square
from ._common import Certificate as Certificate
from ._hybrid import hybrid_decompose as hybrid_decompose
from ._multiplicative import multiplicative_decompose as multiplicative_decompose
from ._nearest import nearest_dlor as nearest_dlor
from ._spectral import spectral_contributions as spectral_contributions

__all__ = [
    "Certificate",
    "additive_decompose",
    "embed_square",
    "hybrid_decompose",
    "multiplicative_decompose",
    "nearest_dlor",
    "spectral_contributions",
]
