r"""Batched forward passes of the H.2 model families: ``B`` independent models in one computation.

Parameters are dicts of tensors with a leading model dimension ``B``; the math is that of
[`DeepDLoR`][dlor.nn.DeepDLoR], [`WideDLoR`][dlor.nn.WideDLoR] and [`MLP`][dlor.nn.MLP] (the tests
compare the two). The data ``x`` is ``(N, d)``, shared by all models, or ``(B, N, d)``, one
set of inputs per model (a minibatch of its own, or a training set of its own).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._errors import DLoRError
from ..nn import MLP, DeepDLoR, WideDLoR

__all__ = ["stack_modules", "unstack_to_module", "batched_forward", "make_module"]

_softplus = nn.functional.softplus
_ACTIVATIONS = {"softplus": nn.functional.softplus, "relu": torch.relu}  # dlor.nn.ACTIVATIONS as functions


def _activation(name: str):
    if name not in _ACTIVATIONS:
        raise DLoRError(f"unknown activation {name!r}; choose one of {list(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


def make_module(
    arch: str, k: int | None = None, widths: list[int] | None = None, init=None, activation: str = "softplus"
) -> nn.Module:
    """A fresh model of ``arch``; ``init`` (a [`dlor.nn.INITS`][dlor.nn.INITS] name) applies to deep and wide
    only; ``activation``: a [`dlor.nn.ACTIVATIONS`][dlor.nn.ACTIVATIONS] name. Deep and wide models take their width
    from ``widths[1]`` when it is given (default 16, Appendix H.2)."""
    width = widths[1] if widths else 16
    if arch in ("deep", "wide"):
        if k is None:
            raise ValueError(f"a {arch} model needs k")
        family = DeepDLoR if arch == "deep" else WideDLoR
        return family(k, width=width, init=init, activation=activation)
    if arch == "dense":
        if widths is None:
            raise ValueError("a dense model needs its widths")
        return MLP(widths, activation=activation)
    raise ValueError(f"unknown architecture {arch!r}")


def stack_modules(modules: list[nn.Module]) -> dict[str, Tensor]:
    """``{name: (B, *shape)}`` from the ``named_parameters`` of ``B`` identical modules."""
    names = [n for n, _ in modules[0].named_parameters()]
    return {n: torch.stack([dict(m.named_parameters())[n].detach() for m in modules]).clone() for n in names}


def unstack_to_module(P: dict[str, Tensor], i: int, module: nn.Module) -> nn.Module:
    with torch.no_grad():
        for n, p in module.named_parameters():
            p.copy_(P[n][i])
    return module


def _linear(x: Tensor, W: Tensor, b: Tensor) -> Tensor:
    """``x W^T + b`` per model: x ``(N, d)`` or ``(B, N, d)``, W ``(B, o, d)``, b ``(B, o)``."""
    return torch.matmul(x, W.transpose(-1, -2)) + b[:, None, :]


def _input_layer_features_major(P: dict[str, Tensor], x: Tensor, act=_softplus) -> Tensor:
    """``rho(W_in x + b_in)`` as ``(B, w, N)``: x ``(N, d)`` or ``(B, N, d)``."""
    return act(P["inp.weight"] @ x.transpose(-1, -2) + P["inp.bias"][:, :, None])


def _output_layer_features_major(P: dict[str, Tensor], h: Tensor) -> Tensor:
    """``W_out h + b_out`` of ``h`` ``(B, w, N)``, returned as ``(B, N, out)``."""
    return (P["out.weight"] @ h + P["out.bias"][:, :, None]).transpose(-1, -2)


def deep_forward(P: dict[str, Tensor], x: Tensor, k: int, broadcast: bool = False, act=_softplus) -> Tensor:
    # Features-major layout: h is (B, w, N), so the contractions over the width reduce rows of
    # N contiguous values and the N-long inner loops vectorize (compiled, 1.5x faster at k=16
    # than the (B, N, w) layout, measured).
    h = _input_layer_features_major(P, x, act)
    a = P["alpha"][:, None, None]
    for l in range(k):
        U, V = P["U"][:, l], P["V"][:, l]  # (B, w, r)
        if broadcast and U.shape[-1] > 1:  # at rank 1 Inductor fuses the matmuls itself, faster
            t = (V[:, :, :, None] * h[:, :, None, :]).sum(1)  # (B, r, N) = V_l^T h
            low = (U[:, :, :, None] * t[:, None, :, :]).sum(2)  # (B, w, N) = U_l t
        else:
            low = U @ (V.transpose(-1, -2) @ h)
        h = act(a * h + low + P["b"][:, l, :, None])
    return _output_layer_features_major(P, h)


def wide_forward(P: dict[str, Tensor], x: Tensor, broadcast: bool = False, act=_softplus) -> Tensor:
    if broadcast:  # features-major, as deep_forward: h is (B, w, N)
        h = _input_layer_features_major(P, x, act)
        U, V = P["U"][..., None], P["V"][..., None]  # (B, k, w, r, 1)
        t = (V * h[:, None, :, None, :]).sum(2)  # (B, k, r, N) = V_l^T h
        z = act((U * t[:, :, None]).sum(3) + P["b_branch"][..., None])  # (B, k, w, N)
        acc = (P["alphas"][:, :, None, None] * z).sum(1) + P["b"][:, :, None]  # (B, w, N)
        return _output_layer_features_major(P, act(acc))
    h = act(_linear(x, P["inp.weight"], P["inp.bias"]))  # (B, N, w)
    t = torch.einsum("bnh,blhr->bnlr", h, P["V"])  # (B, N, k, r)
    z = torch.einsum("bnlr,blor->bnlo", t, P["U"]) + P["b_branch"][:, None]  # (B, N, k, w)
    acc = torch.einsum("bl,bnlo->bno", P["alphas"], act(z)) + P["b"][:, None, :]
    return _linear(act(acc), P["out.weight"], P["out.bias"])


def mlp_forward(P: dict[str, Tensor], x: Tensor, n_layers: int, act=_softplus) -> Tensor:
    h = x
    for i in range(n_layers):
        h = _linear(h, P[f"layers.{i}.weight"], P[f"layers.{i}.bias"])
        if i < n_layers - 1:
            h = act(h)
    return h


def batched_forward(
    arch: str,
    P: dict[str, Tensor],
    x: Tensor,
    k: int | None = None,
    n_layers: int | None = None,
    broadcast: bool = False,
    activation: str = "softplus",
) -> Tensor:
    """Outputs ``(B, N, out)`` of ``B`` models of one architecture, with ``activation`` (a
    [`dlor.nn.ACTIVATIONS`][dlor.nn.ACTIVATIONS] name) as ``rho``.

    ``broadcast``: write the low-rank contractions ``V^T h`` and ``U t`` of the deep and wide
    models as broadcast-multiply-sum instead of batched matmuls. Same math, other rounding. Under
    ``torch.compile`` on the CPU this lets Inductor fuse each step into one C++ kernel: the
    batched matmuls of these tiny factors (width 16, rank ``ceil(16 / k)``) otherwise stay ATen
    calls, 90 per minibatch step at k=15, each paid for in the Python wrapper. Measured, one
    thread, 10 models, batch 32: deep k=15 10.2 -> 8.0 ms per epoch, k=8 6.4 -> 4.6, k=2 3.0 ->
    3.0 (at rank 1, k=16, Inductor already fuses the matmuls). Eagerly it would be slower (it
    materialises ``(B, w, r, N)`` products), so the eager trainer keeps the matmuls.
    """
    act = _activation(activation)
    if arch == "deep":
        assert k is not None, "a deep model needs k"
        return deep_forward(P, x, k, broadcast, act)
    if arch == "wide":
        return wide_forward(P, x, broadcast, act)
    assert n_layers is not None, "a dense model needs its layer count"
    return mlp_forward(P, x, n_layers, act)
