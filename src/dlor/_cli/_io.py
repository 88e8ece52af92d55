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
    if p.is_dir():
        raise DLoRError(f"{path} is a folder; give a matrix file")
    if suffix == ".npy":
        if key is not None:
            raise DLoRError(f"--key applies to .pt and .safetensors files; {path} holds one array")
        check_npy_header(p)
        try:
            value = torch.from_numpy(np.load(p, allow_pickle=False))
        except Exception as err:  # noqa: BLE001 - the header passed its checks; anything else is a bad file
            raise DLoRError(f"{path} is not a plain .npy array: {type(err).__name__}: {' '.join(str(err).split())}") from None
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
        if value.dtype not in (torch.int32, torch.int64, torch.int16, torch.int8, torch.uint8):
            raise DLoRError(f"{path}: dtype {value.dtype} is not a real number type; save a float or integer matrix")
        value = value.to(torch.float64)
    return value


def check_npy_header(path: Path) -> None:
    """Read the header of the ``.npy`` file ``path`` and check it before any array is allocated: a
    real or integer dtype, a 2-D non-empty shape, a size that fits the memory check and that the file
    really holds. Each failure is one [`DLoRError`][dlor.DLoRError] naming the file and the field."""
    from .._options import check_memory

    fmt = np.lib.format
    with path.open("rb") as f:
        if not f.read(1):
            raise DLoRError(f"{path} is empty; a .npy file starts with a header")
        f.seek(0)
        try:
            version = fmt.read_magic(f)
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read(f)
        except Exception as err:  # noqa: BLE001 - numpy's header parser raises ValueError, SyntaxError, TokenError, ...
            raise DLoRError(
                f"{path} is not a .npy file (its header: {type(err).__name__}: {' '.join(str(err).split())})"
            ) from None
        offset = f.tell()
    if dtype.kind not in "fiub" or dtype.hasobject:
        raise DLoRError(f"{path}: dtype {dtype} is not a real number type; save a float or integer matrix")
    if len(shape) != 2 or 0 in shape:
        raise DLoRError(f"{path}: shape {tuple(shape)}; decompose needs a non-empty 2-D matrix")
    count = int(np.prod(shape, dtype=object))
    nbytes = count * dtype.itemsize
    check_memory(
        f"{path} (shape {tuple(shape)}, dtype {dtype})",
        3.0 * max(nbytes, 8 * count),  # read, then converted to float64 for the decomposition
        "decompose a smaller matrix, or run on a machine with more memory",
    )
    have = path.stat().st_size - offset
    if have < nbytes:
        raise DLoRError(f"{path}: its header promises {nbytes} bytes of data (shape {tuple(shape)}) but the file holds {have}")


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
    tensors = {}
    for i, factors in enumerate(groups):
        for j, M in enumerate(factors):
            tensors[f"b{i}.f{j}.alpha"] = M.alpha.detach().reshape(1).clone()
            tensors[f"b{i}.f{j}.U"] = M.U.detach().clone()
            tensors[f"b{i}.f{j}.V"] = M.V.detach().clone()
    write_safetensors(path, tensors, {k: str(v) for k, v in metadata.items()})


def write_safetensors(path: Path, tensors: dict, metadata: dict) -> None:
    """Write ``tensors`` to ``path`` atomically (a temporary file beside it, then a rename); a
    failure is one [`DLoRError`][dlor.DLoRError] naming the path and the reason, and leaves nothing behind."""
    from safetensors.torch import save_file

    from .._files import replace_atomically

    try:
        replace_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
    except Exception as err:  # noqa: BLE001 - safetensors and the OS raise their own types
        raise DLoRError(f"could not write {path}: {' '.join(str(err).split())}") from None
