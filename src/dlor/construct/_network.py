"""Modules produced by the compiler and their bookkeeping."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._matrix import DLoR
from ..nn import DLoRLinear

__all__ = ["CompiledNetwork", "WideDLoRBlock", "Pad", "TakeBottom", "dlor_layer", "count_params"]


def dlor_layer(M: DLoR, scale: float, bias: Tensor | None) -> DLoRLinear:
    """A [`DLoRLinear`][dlor.nn.DLoRLinear] computing ``x -> (scale * M) x + bias``; the weight stays DLoR."""
    m, n = M.shape
    layer = DLoRLinear(n, m, max(M.rank, 1), bias=bias is not None, dtype=M.dtype, device=M.device)
    with torch.no_grad():
        layer.alpha.fill_(float(M.alpha) * scale)
        layer.U.zero_()
        layer.V.zero_()
        if M.rank:
            layer.U.copy_(M.U * scale)
            layer.V.copy_(M.V)
        if bias is not None and layer.bias is not None:
            layer.bias.copy_(bias)
    return layer


class WideDLoRBlock(nn.Module):
    r"""``y = act(sum_l coef_l * act_l(branch_l(x)) + bias)``: the wide block of Theorems 3 and 6.

    Each branch is a [`DLoRLinear`][dlor.nn.DLoRLinear] with weight ``(h / beta_l) M_l`` and bias ``c 1``;
    ``coef_l = beta_l / (h rho'(c))``; ``sum_l beta_l = 0`` cancels the zero-order terms.
    """

    def __init__(self, branches: list[DLoRLinear], coefs: list[float], bias: Tensor, inner: list[nn.Module], outer: nn.Module):
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.inner = nn.ModuleList(inner)
        self.coefs: Tensor
        self.register_buffer("coefs", torch.tensor(coefs, dtype=bias.dtype))
        self.bias = nn.Parameter(bias.clone())
        self.outer = outer

    def forward(self, x: Tensor) -> Tensor:
        acc = self.bias
        for k, (branch, act) in enumerate(zip(self.branches, self.inner, strict=True)):
            acc = acc + self.coefs[k] * act(branch(x))
        return self.outer(acc)


class Pad(nn.Module):
    """Zero-pad the last dimension to ``size`` (Remark 2's ``x~``)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.pad(x, (0, self.size - x.shape[-1]))


class Truncate(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: Tensor) -> Tensor:
        return x[..., : self.size]


class TakeBottom(nn.Module):
    """The second half ``y`` of an augmented state ``[top; y]`` (Appendix F)."""

    def forward(self, x: Tensor) -> Tensor:
        return x[..., x.shape[-1] // 2 :]


def count_params(module: nn.Module) -> dict:
    """Parameters split into DLoR weights (alpha, U, V), dense weights and biases."""
    dlor_w = dense_w = biases = 0
    for mod in module.modules():
        if isinstance(mod, DLoRLinear):
            dlor_w += mod.matrix.num_params
            biases += mod.bias.numel() if mod.bias is not None else 0
        elif isinstance(mod, nn.Linear):
            dense_w += mod.weight.numel()
            biases += mod.bias.numel() if mod.bias is not None else 0
        elif isinstance(mod, WideDLoRBlock):
            biases += mod.bias.numel()
    return {"dlor_weights": dlor_w, "dense_weights": dense_w, "biases": biases, "total": dlor_w + dense_w + biases}


def _depth_width(chain: nn.Module) -> tuple[int, int]:
    depth = width = 0
    for mod in chain.children():
        if isinstance(mod, (DLoRLinear, nn.Linear)):
            depth += 1
            width = max(width, mod.out_features if isinstance(mod, nn.Linear) else mod.out_features)
        elif isinstance(mod, WideDLoRBlock):
            depth += 2  # branch layer + aggregation
            width = max(width, sum(b.out_features for b in mod.branches if isinstance(b, DLoRLinear)))
    return depth, width


class CompiledNetwork(nn.Module):
    r"""A DLoR network compiled from a dense MLP: ``f(x) = sum_i w_i chain_i(x)``.

    One chain for the first-order schemes of the paper; two chains at ``h`` and ``h/2``
    combined at the readout for Richardson extrapolation (a hybrid in the sense of Remark 3).
    Every hidden weight is a [`DLoRLinear`][dlor.nn.DLoRLinear]; the rectangular input and output
    layers stay dense unless ``rectangular="embed"``.
    """

    def __init__(self, chains: list[nn.Sequential], weights: list[float], info: dict):
        super().__init__()
        self.chains = nn.ModuleList(chains)
        self.weights = list(weights)
        self.info = dict(info)

    def forward(self, x: Tensor) -> Tensor:
        out = self.weights[0] * self.chains[0](x)
        for w, chain in zip(self.weights[1:], self.chains[1:], strict=True):
            out = out + w * chain(x)
        return out

    @property
    def h(self) -> float:
        return self.info["h"]

    def stats(self, dense: nn.Module | None = None) -> dict:
        """Parameter counts, depth and width, next to those of ``dense`` if given, and
        ``dense_layers``: every stage of the MLP that the compiler kept dense, with its reason."""
        depth, width = zip(*(_depth_width(c) for c in self.chains), strict=True)
        out = {
            "params": count_params(self),
            "depth": max(depth),
            "width": max(width),
            "chains": len(self.chains),
            "dense_layers": self.info.get("dense_layers", []),
        }
        if dense is not None:
            dd, dw = _depth_width(dense) if isinstance(dense, nn.Sequential) else (None, None)
            out["dense"] = {"params": count_params(dense), "depth": dd, "width": dw}
        return out
