"""Rank-1 networks (Section 3): exact interpolation and its limits."""

from ._activations import ACTIVATIONS as ACTIVATIONS
from ._bounds import affine_collapse_bound as affine_collapse_bound
from ._bounds import blindness_bound as blindness_bound
from ._bounds import conditional_variance as conditional_variance
from ._interpolate import ActivationError as ActivationError
from ._interpolate import Rank1Net as Rank1Net
from ._interpolate import interpolate as interpolate

__all__ = [
    "ACTIVATIONS",
    "ActivationError",
    "Rank1Net",
    "affine_collapse_bound",
    "blindness_bound",
    "conditional_variance",
    "interpolate",
]
