"""Saving and loading (dlorized) models: safetensors or a plain ``state_dict``, exact round trip."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .._errors import DLoRError
from .._files import replace_atomically

__all__ = ["save_checkpoint", "load_checkpoint", "check_state_fits"]


def save_checkpoint(model: nn.Module, path: str | Path) -> Path:
    """Write ``model.state_dict()`` to ``path`` (``.safetensors``, else ``torch.save``)."""
    path = Path(path)
    if not isinstance(model, nn.Module):
        raise DLoRError(f"save_checkpoint takes an nn.Module, got {type(model).__name__}")
    if path.is_dir():
        raise DLoRError(f"cannot write a checkpoint to {path}: it is a folder; give a file name inside it")
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}

    def write(tmp: Path) -> None:
        if path.suffix == ".safetensors":
            from safetensors.torch import save_file

            # clone: safetensors refuses tensors that share storage
            save_file({k: v.clone() for k, v in state.items()}, str(tmp))
        else:
            torch.save(state, tmp)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, write)
    except (OSError, RuntimeError) as err:  # safetensors' errors and torch.save's are RuntimeErrors
        raise DLoRError(f"cannot write a checkpoint to {path}: {' '.join(str(err).split())}") from None
    return path


def load_checkpoint(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a checkpoint written by [`save_checkpoint`][dlor.save_checkpoint] into ``model``, strictly.

    Raises:
        DLoRError: no file, a folder, a file that cannot be read (torn, empty, renamed from
            another format), missing/unexpected entries or shape mismatches, e.g. a checkpoint of
            a model dlorized with another rank; the message names the path and the first differences.
    """
    path = Path(path)
    if not path.exists():
        raise DLoRError(f"no checkpoint at {path}")
    if path.is_dir():
        raise DLoRError(f"{path} is a folder, not a checkpoint file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, weights_only=True)
    except Exception as err:  # noqa: BLE001 - safetensors, pickle and zip raise their own types
        reason = " ".join(str(err).split()) or "the file is empty or cut short"
        raise DLoRError(
            f"cannot read the checkpoint {path} ({type(err).__name__}: {reason[:300]}); is it a file that "
            "save_checkpoint wrote, and was it copied whole?"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DLoRError(f"{path} does not hold a state_dict (names to tensors)")
    check_state_fits(
        model,
        state,
        f"checkpoint {path}",
        shape_hint=" (was the model dlorized with a different rank?)",
        key_hint=" (dlorize the model the same way before loading)",
    )
    model.load_state_dict(state, strict=True)
    return model


def check_state_fits(model: nn.Module, state: dict, source: str, shape_hint: str = "", key_hint: str = "") -> None:
    """Raise [`DLoRError`][dlor.DLoRError] unless ``state`` has exactly ``model``'s entries and shapes.

    The message names ``source`` and the first differences (shapes with ``shape_hint`` after
    them, entries missing from ``state``, entries not in the model with ``key_hint``), where
    ``load_state_dict`` would raise a long ``RuntimeError`` or, non-strict, say nothing.
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [(k, tuple(state[k].shape), tuple(own[k].shape)) for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append(
                "shape mismatch " + ", ".join(f"{k}: checkpoint {a} vs model {b}" for k, a, b in shapes[:4]) + shape_hint
            )
        if missing:
            parts.append(f"missing from the checkpoint: {missing[:4]}")
        if unexpected:
            parts.append(f"not in the model: {unexpected[:4]}{key_hint}")
        raise DLoRError(f"{source} does not fit this model: " + "; ".join(parts))
