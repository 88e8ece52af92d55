"""``torch.nn`` modules built on DLoR matrices."""

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
    "DLoRChain",
    "DLoRLinear",
    "DeepDLoR",
    "FamilyInit",
    "INITS",
    "MLP",
    "SparseLowRankLinear",
    "WideDLoR",
    "check_state_fits",
    "dlorize",
    "load_checkpoint",
    "rank_for",
    "save_checkpoint",
]
