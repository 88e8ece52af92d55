"""The vectorized multi-model trainer (Section 6.2, Appendix H.2)."""

from ._batched import batched_forward as batched_forward
from ._batched import stack_modules as stack_modules
from ._state import TrainState as TrainState
from ._state import adam_update as adam_update
from ._state import init_state as init_state
from ._state import plateau_update as plateau_update
from ._trainer import GroupSpec as GroupSpec
from ._trainer import GroupTrainer as GroupTrainer
from ._trainer import TrainConfig as TrainConfig
from ._trainer import epoch_orders as epoch_orders

__all__ = [
    "GroupSpec",
    "GroupTrainer",
    "TrainConfig",
    "TrainState",
    "adam_update",
    "batched_forward",
    "epoch_orders",
    "init_state",
    "plateau_update",
    "stack_modules",
]
