"""Reading and writing matrices and models for the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .._errors import DLoRError


def load_matrix(path: str, key: str | None = None) -> torch.Tensor:
    """A 2-D tensor from ``.npy``, ``.pt``/``.pth`` or ``.safetensors``."""
    p = Path(path)
    if not p.exists():
        raise DLoRError(f"no such file: {path}")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            value = torch.from_numpy(np.load(p, allow_pickle=False))
        except ValueError as err:
            raise DLoRError(f"{path} is not a plain .npy array: {err}") from None
    elif suffix in (".pt", ".pth"):
        try:
            value = torch.load(p, weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unpickling failure is a user error here
            raise DLoRError(
                f"could not read {path} as a tensor file: {type(err).__name__}"
                f"{': ' + str(err) if str(err) else ' (the file is empty or cut short)'}"
            ) from None
        if isinstance(value, dict):
            value = _pick(value, key, path)
    elif suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            value = _pick(load_file(str(p)), key, path)
        except DLoRError:
            raise
        except Exception as err:  # noqa: BLE001
            raise DLoRError(f"could not read {path} as safetensors: {err}") from None
    else:
        raise DLoRError(f"unsupported matrix file {path}: use .npy, .pt or .safetensors")
    if not isinstance(value, torch.Tensor):
        raise DLoRError(f"{path} does not hold a tensor")
    if not value.dtype.is_floating_point:
        value = (
            value.to(torch.float64) if value.dtype in (torch.int32, torch.int64, torch.int16, torch.int8, torch.uint8) else value
        )
    return value


def _pick(tensors: dict, key: str | None, path: str):
    if key is not None:
        if key not in tensors:
            raise DLoRError(f"{path} has no tensor named {key!r}; it has {sorted(tensors)}")
        return tensors[key]
    if len(tensors) != 1:
        raise DLoRError(f"{path} holds {len(tensors)} tensors {sorted(tensors)}; choose one with --key")
    return next(iter(tensors.values()))


def save_factors(path: Path, groups: list[list], metadata: dict) -> None:
    """Write DLoR factors as safetensors: ``b{i}.f{j}.alpha|U|V`` (branch ``i``, factor ``j``)."""
    from safetensors.torch import save_file

    tensors = {}
    for i, factors in enumerate(groups):
        for j, M in enumerate(factors):
            tensors[f"b{i}.f{j}.alpha"] = M.alpha.detach().reshape(1).clone()
            tensors[f"b{i}.f{j}.U"] = M.U.detach().clone()
            tensors[f"b{i}.f{j}.V"] = M.V.detach().clone()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={k: str(v) for k, v in metadata.items()})
