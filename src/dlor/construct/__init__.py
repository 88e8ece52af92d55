"""The network compiler: dense MLP -> deep, wide or augmented DLoR networks (Section 5)."""

from ._activation import DEFAULT_C as DEFAULT_C
from ._activation import AssumptionError as AssumptionError
from ._api import max_abs_error as max_abs_error
from ._api import to_augmented as to_augmented
from ._api import to_deep as to_deep
from ._api import to_wide as to_wide
from ._files import ACTIVATIONS as ACTIVATIONS
from ._files import load_compiled as load_compiled
from ._files import load_mlp as load_mlp
from ._files import save_compiled as save_compiled
from ._files import save_mlp as save_mlp
from ._network import CompiledNetwork as CompiledNetwork
from ._network import WideDLoRBlock as WideDLoRBlock

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_C",
    "AssumptionError",
    "CompiledNetwork",
    "WideDLoRBlock",
    "load_compiled",
    "load_mlp",
    "max_abs_error",
    "save_compiled",
    "save_mlp",
    "to_augmented",
    "to_deep",
    "to_wide",
]
