r"""The DLoR tuner layer: ``W_0 x + b + sum_a s_a (alpha_a x~ + (x V_a) U_a^T)`` over the active
adapters ``a`` of a frozen ``nn.Linear``, PEFT's multi-adapter layer around the math of
[`adapter_update`][dlor.nn.adapter_update] and [`adapter_delta`][dlor.nn.adapter_delta]."""

from __future__ import annotations

from typing import Any

import torch
from peft.tuners.tuners_utils import BaseTunerLayer, check_adapters_to_merge
from torch import Tensor, nn

from ..nn._adapter import adapter_delta, adapter_update, check_adapter_rank, init_factors


class DLoRLayer(BaseTunerLayer):
    adapter_layer_names = ("dlor_U", "dlor_V", "dlor_alpha")  # trainable, saved
    other_param_names = ("r", "scaling", "alpha_fixed")  # per adapter, from its config

    def __init__(self, base_layer: nn.Module, **kwargs: Any) -> None:
        self.base_layer = base_layer
        self.r: dict[str, int] = {}
        self.scaling: dict[str, float] = {}
        self.alpha_fixed: dict[str, float] = {}  # the alpha of adapters with train_alpha=False
        self.dlor_U = nn.ParameterDict({})
        self.dlor_V = nn.ParameterDict({})
        self.dlor_alpha = nn.ParameterDict({})
        self._disable_adapters = False
        self.merged_adapters: list[str] = []
        self.kwargs = kwargs
        base = self.get_base_layer()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"DLoR adapts nn.Linear layers, got {type(base).__name__}; target the Linear layers inside it")
        self.in_features, self.out_features = base.in_features, base.out_features

    def _base_linear(self) -> nn.Linear:
        base = self.get_base_layer()
        assert isinstance(base, nn.Linear)  # checked in __init__
        return base

    def update_layer(self, adapter_name: str, config: Any, name: str = "") -> None:
        r = check_adapter_rank(config.r, self.out_features, self.in_features, name)
        weight = self._base_linear().weight
        dtype = weight.dtype if weight.dtype.is_floating_point else torch.float32
        self.r[adapter_name] = r
        self.scaling[adapter_name] = config.scaling_alpha / r
        self.dlor_U[adapter_name] = nn.Parameter(torch.empty(self.out_features, r, dtype=dtype, device=weight.device))
        self.dlor_V[adapter_name] = nn.Parameter(torch.empty(self.in_features, r, dtype=dtype, device=weight.device))
        init_factors(self.dlor_U[adapter_name], self.dlor_V[adapter_name])
        if config.train_alpha:
            self.dlor_alpha[adapter_name] = nn.Parameter(
                torch.tensor(float(config.alpha_init), dtype=dtype, device=weight.device)
            )
        else:
            self.alpha_fixed[adapter_name] = float(config.alpha_init)
        self.set_adapter(self.active_adapters, inference_mode=config.inference_mode)

    def _alpha(self, adapter: str) -> Tensor:
        if adapter in self.dlor_alpha:
            return self.dlor_alpha[adapter]
        U = self.dlor_U[adapter]
        return torch.tensor(self.alpha_fixed[adapter], dtype=U.dtype, device=U.device)

    def get_delta_weight(self, adapter: str) -> Tensor:
        """The dense update ``s (alpha I_{m x n} + U V^T)`` of ``adapter`` (for merging only)."""
        return adapter_delta(self._alpha(adapter), self.dlor_U[adapter], self.dlor_V[adapter], self.scaling[adapter])


class DLoRAdapterLinear(nn.Module, DLoRLayer):
    """A frozen ``nn.Linear`` with DLoR adapters (``dlor.peft``'s tuner layer)."""

    def __init__(self, base_layer: nn.Module, adapter_name: str, config: Any, name: str = "", **kwargs: Any) -> None:
        super().__init__()
        DLoRLayer.__init__(self, base_layer, **kwargs)
        self._active_adapter = adapter_name
        self.update_layer(adapter_name, config, name)

    def merge(self, safe_merge: bool = False, adapter_names: list[str] | None = None) -> None:
        adapter_names = check_adapters_to_merge(self, adapter_names)
        base = self._base_linear()
        for adapter in adapter_names:
            if adapter not in self.dlor_U:
                continue
            with torch.no_grad():
                merged = base.weight.data + self.get_delta_weight(adapter).to(base.weight.dtype)
                if safe_merge and not torch.isfinite(merged).all():
                    raise ValueError(f"merging adapter {adapter!r} gives non-finite weights; the adapter is broken")
                base.weight.data = merged
            self.merged_adapters.append(adapter)

    def unmerge(self) -> None:
        base = self._base_linear()
        while self.merged_adapters:
            adapter = self.merged_adapters.pop()
            if adapter in self.dlor_U:
                with torch.no_grad():
                    base.weight.data -= self.get_delta_weight(adapter).to(base.weight.dtype)

    def forward(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if self.disable_adapters:
            if self.merged:
                self.unmerge()
            return self.base_layer(x, *args, **kwargs)
        result = self.base_layer(x, *args, **kwargs)
        if self.merged:
            return result
        for adapter in self.active_adapters:
            if adapter not in self.dlor_U:
                continue
            U = self.dlor_U[adapter]
            update = adapter_update(x.to(U.dtype), self._alpha(adapter), U, self.dlor_V[adapter], self.scaling[adapter])
            result = result + update.to(result.dtype)
        return result

    def __repr__(self) -> str:
        return "dlor." + super().__repr__()
