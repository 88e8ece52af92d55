"""``torch.nn`` modules built on DLoR matrices."""

from ._adapter import DLoRAdapter as DLoRAdapter
from ._adapter import adapt as adapt
from ._adapter import adapter_delta as adapter_delta
from ._adapter import adapter_update as adapter_update
from ._adapter import merge_adapters as merge_adapters
from ._checkpoint import check_state_fits as check_state_fits
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import save_checkpoint as save_checkpoint
from ._dlorize import DLoRChain as DLoRChain
from ._dlorize import dlorize as dlorize
from ._families import ACTIVATIONS as ACTIVATIONS
from ._families import INITS as INITS
from ._families import MLP as MLP
from ._families import DeepDLoR as DeepDLoR
from ._families import FamilyInit as FamilyInit
from ._families import WideDLoR as WideDLoR
from ._families import rank_for as rank_for
from ._linear import DLoRLinear as DLoRLinear
from ._sparse_lowrank import SparseLowRankLinear as SparseLowRankLinear

__all__ = [
    "ACTIVATIONS",
    "DLoRAdapter",
    "DLoRChain",
    "DLoRLinear",
    "DeepDLoR",
    "FamilyInit",
    "INITS",
    "MLP",
    "SparseLowRankLinear",
    "WideDLoR",
    "adapt",
    "adapter_delta",
    "adapter_update",
    "check_state_fits",
    "dlorize",
    "load_checkpoint",
    "merge_adapters",
    "rank_for",
    "save_checkpoint",
]
