"""``DLoRModel``: PEFT's tuner for the DLoR method, which puts a [`DLoRAdapterLinear`][dlor.peft.DLoRAdapterLinear]
layer in place of each targeted ``nn.Linear``."""

from __future__ import annotations

from typing import Any

from peft.tuners.tuners_utils import BaseTuner, BaseTunerLayer
from torch import nn

from ._layer import DLoRAdapterLinear, DLoRLayer


class DLoRModel(BaseTuner):
    """Adapts a model with DLoR adapters; built by ``peft.get_peft_model(model, DLoRConfig(...))``."""

    prefix: str = "dlor_"
    tuner_layer_cls = DLoRLayer
    target_module_mapping: dict[str, list[str]] = {}  # no defaults: DLoRConfig names its targets

    def _create_and_replace(  # type: ignore[override]  # PEFT passes its tuners extra keywords
        self,
        config: Any,
        adapter_name: str,
        target: nn.Module,
        target_name: str,
        parent: nn.Module,
        current_key: str,
        **kwargs: Any,
    ) -> None:
        if isinstance(target, DLoRAdapterLinear):
            target.update_layer(adapter_name, config, current_key)
            return
        base = target.get_base_layer() if isinstance(target, BaseTunerLayer) else target
        if not isinstance(base, nn.Linear):
            raise TypeError(
                f"DLoR adapts nn.Linear layers; {current_key!r} is a {type(base).__name__}: "
                "remove it from target_modules or name the Linear layers inside it"
            )
        new = DLoRAdapterLinear(target, adapter_name, config, name=current_key)
        if adapter_name not in self.active_adapters:
            new.requires_grad_(False)  # an added adapter trains only once it is set active
        self._replace_module(parent, target_name, new, target)
