"""Exact DLoR decompositions of dense matrices (Section 4): pure functions returning DLoR lists."""

from ._common import Certificate as Certificate
from ._multiplicative import multiplicative_decompose as multiplicative_decompose

__all__ = ["Certificate", "multiplicative_decompose"]
