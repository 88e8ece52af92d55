"""Compiled networks (dlor.construct) as structured modules: each one equals the same network
with every DLoR layer formed as a dense nn.Linear, through every transform the layers support."""

import torch
from torch import nn

from dlor.construct import to_deep, to_wide
from dlor.nn import DLoRLinear
from tests._structured_layer_case import StructuredLayerCase


def dense_forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``net(x)`` with the output of every DLoRLinear replaced by ``F.linear`` with its dense weight
    ``I alpha + U V^T`` (formed from the layer's own parameters, so gradients reach them)."""
    hooks = [
        m.register_forward_hook(lambda mod, args, out: nn.functional.linear(args[0], mod.weight, mod.bias))
        for m in net.modules()
        if isinstance(m, DLoRLinear)
    ]
    try:
        return net(x)
    finally:
        for h in hooks:
            h.remove()


class _CompiledCase(StructuredLayerCase):
    in_features = 3
    # the layers of a compiled network carry scales h and 1 / h (Theorem 5): bfloat16's 8-bit
    # mantissa loses the cancellation between them, so autocast is not a meaningful test here
    supports_autocast = False
    compile_fullgraph = False

    def mlp(self, dtype):
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 1)).to(dtype)

    def dense_reference(self, net, x):
        return dense_forward(net, x)


class TestCompiledDeepNetwork(_CompiledCase):
    def create(self, dtype):
        return to_deep(self.mlp(dtype), 2, 1e-2)


class TestCompiledWideNetwork(_CompiledCase):
    def create(self, dtype):
        return to_wide(self.mlp(dtype), 2, 1e-2)
