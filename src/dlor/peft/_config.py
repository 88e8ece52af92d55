"""``DLoRConfig``: the configuration of the DLoR PEFT method, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from peft.config import PeftConfig

from ._type import PEFT_TYPE


@dataclass
class DLoRConfig(PeftConfig):
    r"""A DLoR adapter ``s (alpha I + U V^T)`` beside each targeted ``nn.Linear`` (Definition 3).

    Args:
        r: the rank of ``U V^T``; each targeted ``m x n`` layer needs ``r <= min(m, n)``.
        target_modules: module names (or suffixes), or one regex, as in ``peft.LoraConfig``.
        exclude_modules: module names (or one regex) to leave out.
        scaling_alpha: the update's scale is ``s = scaling_alpha / r`` (LoRA's ``lora_alpha``;
            named apart from the DLoR ``alpha``).
        alpha_init: the DLoR ``alpha`` at the start (0: the model starts as the pretrained one).
        train_alpha: train ``alpha``; ``False`` keeps it at ``alpha_init`` (``alpha_init=0`` and
            ``train_alpha=False`` is LoRA).
        bias: ``"none"`` (the default), ``"all"`` or ``"dlor_only"``: which biases train.
        modules_to_save: modules besides the adapters that train and are saved.
    """

    r: int = field(default=8, metadata={"help": "rank of U V^T"})
    target_modules: list[str] | str | None = field(
        default=None, metadata={"help": "names (or suffixes) of the nn.Linear modules to adapt, or one regex"}
    )
    exclude_modules: list[str] | str | None = field(default=None, metadata={"help": "modules to leave out"})
    scaling_alpha: float = field(default=8.0, metadata={"help": "the update is scaled by scaling_alpha / r"})
    alpha_init: float = field(default=0.0, metadata={"help": "the DLoR alpha at the start"})
    train_alpha: bool = field(default=True, metadata={"help": "train alpha (False: it stays at alpha_init)"})
    bias: str = field(default="none", metadata={"help": "'none', 'all' or 'dlor_only'"})
    modules_to_save: list[str] | None = field(default=None, metadata={"help": "other modules to train and save"})
    layers_to_transform: list[int] | int | None = field(default=None, metadata={"help": "layer indexes to adapt"})
    layers_pattern: list[str] | str | None = field(default=None, metadata={"help": "the layers' name pattern"})

    def __post_init__(self):
        super().__post_init__()
        self.peft_type = PEFT_TYPE
        if isinstance(self.r, bool) or not isinstance(self.r, int) or self.r < 1:
            raise ValueError(f"DLoRConfig: r must be an integer >= 1, got {self.r!r}")
        for name in ("scaling_alpha", "alpha_init"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"DLoRConfig: {name} must be a finite number, got {value!r}")
        if self.bias not in ("none", "all", "dlor_only"):
            raise ValueError(f"DLoRConfig: bias must be 'none', 'all' or 'dlor_only', got {self.bias!r}")
        if self.target_modules is None:
            raise ValueError(
                "DLoRConfig: name the nn.Linear modules to adapt with target_modules, e.g. target_modules=['q_proj', 'v_proj']"
            )
        if isinstance(self.target_modules, list):
            self.target_modules = set(self.target_modules)
        if isinstance(self.exclude_modules, list):
            self.exclude_modules = set(self.exclude_modules)
