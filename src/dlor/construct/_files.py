"""MLPs and compiled networks as safetensors files: no pickle, so opening a file runs no code.

* An MLP file holds the state dict of an ``nn.Sequential`` of ``nn.Linear`` layers and
  activations (``0.weight``, ``0.bias``, ``2.weight``, ...: a Linear layer at every even index
  from 0, one activation between two of them, as ``save_mlp`` writes) and, in its
  metadata or in a JSON file beside it (``MODEL.json``), ``{"activation": "tanh"}``.
* A compiled-network file holds the compiled network's tensors (``network.*``), the MLP it was
  compiled from (``mlp.*``) and the construction's settings in its metadata. [`load_compiled`][dlor.construct.load_compiled]
  rebuilds the network from the MLP and the settings and then loads the tensors into it strictly,
  so a file whose tensors do not fit its settings is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from torch import nn

from .._errors import DLoRError
from ._network import CompiledNetwork

__all__ = ["ACTIVATIONS", "save_mlp", "load_mlp", "save_compiled", "load_compiled"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "softplus": nn.Softplus,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
}
COMPILED_FORMAT = "dlor.construct.CompiledNetwork/1"
_KEY = re.compile(r"^(\d+)\.(weight|bias)$")


def _read_safetensors(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The metadata and the tensors of a safetensors file (DLoRError when it is not one)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}, {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise DLoRError(f"{path} is not a safetensors file ({err})") from None


def _activation_name(mlp: nn.Sequential) -> str:
    kinds = {type(m) for m in mlp if not isinstance(m, nn.Linear)}
    names = [name for name, cls in ACTIVATIONS.items() if {cls} == kinds]
    if not names:
        raise DLoRError(
            f"save_mlp takes Linear layers with one activation of {sorted(ACTIVATIONS)} between them, "
            f"got {sorted(k.__name__ for k in kinds)}"
        )
    return names[0]


def save_mlp(mlp: nn.Sequential, path: str | Path) -> None:
    """Write ``mlp`` (Linear layers with one activation between them) as a safetensors MLP file."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in mlp.state_dict().items()}
    save_file(tensors, str(path), metadata={"activation": _activation_name(mlp)})


def _read_activation(path: Path, meta: dict, activation: str | None) -> str:
    name = activation
    sidecar = path.with_suffix(".json")
    if name is None and sidecar.exists():
        try:
            name = json.loads(sidecar.read_text()).get("activation")
        except (ValueError, AttributeError) as err:
            raise DLoRError(f'{sidecar} is not a JSON object with an "activation" field: {err}') from None
    name = name if name is not None else meta.get("activation")
    if name is None:
        raise DLoRError(
            f"{path} does not say its activation: pass --activation NAME (one of {sorted(ACTIVATIONS)}) "
            f'or write {{"activation": NAME}} into {sidecar.name}'
        )
    if name not in ACTIVATIONS:
        raise DLoRError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    return name


def load_mlp(path: str | Path, activation: str | None = None, dtype: torch.dtype | None = None) -> nn.Sequential:
    """The ``nn.Sequential`` MLP of a safetensors MLP file (see the module docstring).

    ``activation`` (a key of [`ACTIVATIONS`][dlor.construct.ACTIVATIONS]) overrides what the file or its JSON says.

    Raises:
        DLoRError: not a safetensors file, a tensor that is not ``N.weight`` / ``N.bias``, layers
            not numbered 0, 2, 4, ..., a tensor that is not floating point, a layer without its
            bias, or shapes that do not chain (each names the tensor).
    """
    path = Path(path)
    meta, tensors = _read_safetensors(path)
    layers: dict[int, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        m = _KEY.match(key)
        if m is None:
            raise DLoRError(f"tensor {key!r} of {path} is not a layer's weight or bias (names like 0.weight, 0.bias)")
        layers.setdefault(int(m.group(1)), {})[m.group(2)] = t
    if not layers:
        raise DLoRError(f"{path} holds no tensors")
    act = ACTIVATIONS[_read_activation(path, meta, activation)]
    modules: list[nn.Module] = []
    prev_out = None
    order = sorted(layers)
    expected = list(range(0, 2 * len(order), 2))
    if order != expected:
        raise DLoRError(
            f"{path}: its layers are numbered {order}, not {expected}: an MLP file holds a Linear layer at every "
            "even index from 0 with one activation between two of them (dlor.construct.save_mlp writes one)"
        )
    for key, t in tensors.items():
        if not t.dtype.is_floating_point:
            raise DLoRError(f"{path}: {key} has dtype {t.dtype}; an MLP's weights and biases must be floating point")
    for n, i in enumerate(order):
        parts = layers[i]
        if "weight" not in parts:
            raise DLoRError(f"{path}: layer {i} has {i}.bias but no {i}.weight")
        if "bias" not in parts:
            raise DLoRError(f"{path}: layer {i} has {i}.weight but no {i}.bias (every layer needs its bias)")
        W, b = parts["weight"], parts["bias"]
        if W.dim() != 2:
            raise DLoRError(f"{path}: {i}.weight must be 2-D (out, in), got shape {tuple(W.shape)}")
        if tuple(b.shape) != (W.shape[0],):
            raise DLoRError(f"{path}: {i}.bias has shape {tuple(b.shape)}, {i}.weight needs ({W.shape[0]},)")
        if prev_out is not None and W.shape[1] != prev_out:
            raise DLoRError(f"{path}: {i}.weight takes {W.shape[1]} inputs but the layer before gives {prev_out}")
        prev_out = W.shape[0]
        lin = nn.Linear(W.shape[1], W.shape[0], dtype=dtype or W.dtype)
        with torch.no_grad():
            lin.weight.copy_(W)
            lin.bias.copy_(b)
        modules.append(lin)
        if n < len(order) - 1:
            modules.append(act())
    return nn.Sequential(*modules)


def save_compiled(net: CompiledNetwork, mlp: nn.Sequential, settings: dict, path: str | Path) -> None:
    """Write ``net``, compiled from ``mlp`` with ``settings`` (``mode``, ``rank``, ``h``,
    ``order``: what [`load_compiled`][dlor.construct.load_compiled] rebuilds it from), as one safetensors file."""
    from safetensors.torch import save_file

    tensors = {f"network.{k}": v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    tensors |= {f"mlp.{k}": v.detach().contiguous().cpu() for k, v in mlp.state_dict().items()}
    meta = {"format": COMPILED_FORMAT, "settings": json.dumps(settings), "activation": _activation_name(mlp)}
    save_file(tensors, str(path), metadata=meta)


def load_compiled(path: str | Path) -> CompiledNetwork:
    """The compiled network of a file written by [`save_compiled`][dlor.construct.save_compiled] (``dlor construct --out``)."""
    from ._api import to_augmented, to_deep, to_wide

    path = Path(path)
    meta, tensors = _read_safetensors(path)
    if meta.get("format") != COMPILED_FORMAT:
        raise DLoRError(f"{path} is not a compiled network of dlor construct (format {meta.get('format')!r})")
    settings = json.loads(meta["settings"])
    mlp_state = {k[len("mlp.") :]: t for k, t in tensors.items() if k.startswith("mlp.")}
    act = ACTIVATIONS[meta["activation"]]
    order = sorted({int(k.split(".")[0]) for k in mlp_state})
    modules: list[nn.Module] = []
    for n, i in enumerate(order):
        W = mlp_state[f"{i}.weight"]
        modules.append(nn.Linear(W.shape[1], W.shape[0], dtype=W.dtype))
        if n < len(order) - 1:
            modules.append(act())
    mlp = nn.Sequential(*modules)
    mlp.load_state_dict({f"{2 * n}.{part}": mlp_state[f"{i}.{part}"] for n, i in enumerate(order) for part in ("weight", "bias")})
    mode, h, o = settings["mode"], settings["h"], settings["order"]
    if mode == "deep":
        net = to_deep(mlp, settings["rank"], h, order=o)
    elif mode == "wide":
        net = to_wide(mlp, settings["rank"], h, order=o)
    else:
        net = to_augmented(mlp, h, order=o)
    net.load_state_dict({k[len("network.") :]: t for k, t in tensors.items() if k.startswith("network.")}, strict=True)
    return net
