"""The vectorized multi-model trainer (Section 6.2, Appendix H.2).

The pure step functions (``_state``) and the settings (``_config``) load with the package; the
trainer that drives them (``_trainer``: ``GroupSpec``, ``GroupTrainer``, ``epoch_orders``) loads
on first use, so importing a step function never imports the trainer.
"""

from typing import TYPE_CHECKING, Any

from ._batched import batched_forward as batched_forward
from ._batched import stack_modules as stack_modules
from ._config import TrainConfig as TrainConfig
from ._state import TrainState as TrainState
from ._state import adam_update as adam_update
from ._state import init_state as init_state
from ._state import plateau_update as plateau_update

if TYPE_CHECKING:
    from ._trainer import GroupSpec as GroupSpec
    from ._trainer import GroupTrainer as GroupTrainer
    from ._trainer import epoch_orders as epoch_orders

_TRAINER_NAMES = ("GroupSpec", "GroupTrainer", "epoch_orders")

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


def __getattr__(name: str) -> Any:
    if name in _TRAINER_NAMES:
        from . import _trainer

        return getattr(_trainer, name)
    raise AttributeError(f"module 'dlor.train' has no attribute {name!r}")
