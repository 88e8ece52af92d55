"""``torch.nn`` modules built on DLoR matrices."""

from ._linear import DLoRLinear as DLoRLinear

__all__ = ["DLoRLinear"]
