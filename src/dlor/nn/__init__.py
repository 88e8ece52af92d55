"""``torch.nn`` modules built on DLoR matrices."""

from ._families import MLP as MLP
from ._families import DeepDLoR as DeepDLoR
from ._families import WideDLoR as WideDLoR
from ._families import rank_for as rank_for
from ._linear import DLoRLinear as DLoRLinear

__all__ = ["DLoRLinear", "DeepDLoR", "MLP", "WideDLoR", "rank_for"]
