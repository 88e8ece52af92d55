"""A trained GPT in one safetensors file that rebuilds itself: weights plus the model's config.

``save_model(model, "gpt.safetensors")`` writes the ``state_dict`` and, in the file's metadata,
[`GPTConfig`][dlor.lm.GPTConfig] as JSON; ``load_model("gpt.safetensors")`` builds the same GPT
(variant, widths, rank, the sparse support) and loads the weights strictly. The training
checkpoints of [`dlor.lm.train`][dlor.lm.train] (``RUN_DIR/checkpoint.safetensors``, with AdamW's state,
for resuming) carry the config too, and ``load_model`` reads the model out of them as well: the
runs of ``dlor reproduce lm`` and ``dlor lm train --run-dir`` can be sampled as they stand.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .._errors import DLoRError
from .._files import replace_atomically
from ..nn import check_state_fits
from .model import GPT, GPTConfig
from .trainer import checkpoint_model

__all__ = ["save_model", "load_model", "check_model_path"]

_CONFIG_KEY = "dlor.lm.config"


def check_model_path(path: str | Path) -> Path:
    """``path`` as a ``Path``; [`DLoRError`][dlor.lm.saved.DLoRError] unless it names a ``.safetensors`` file (a command
    checks its ``--out`` with this before training, so a finished model is not lost to its name)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise DLoRError(f"{path}: a GPT is saved as .safetensors; name the file model.safetensors, say")
    return path


def save_model(model: GPT, path: str | Path) -> Path:
    """Write ``model``'s weights and config to ``path`` (``.safetensors``), atomically."""
    from safetensors.torch import save_file

    if not isinstance(model, GPT):
        raise DLoRError(
            f"save_model takes a dlor.lm.GPT, got {type(model).__name__}; use dlor.nn.save_checkpoint for other modules"
        )
    path = check_model_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # clone: safetensors refuses tensors that share storage (the head is tied to the embedding)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items() if k != "head.weight"}
    return replace_atomically(
        path, lambda tmp: save_file(state, str(tmp), metadata={_CONFIG_KEY: json.dumps(model.config.to_dict())})
    )


def _check_sizes_match_weights(path: Path, config, state: dict) -> None:
    """A file's config is input like its weights: every size it gives (``n_layer``, ``n_embd``,
    ``vocab_size``, ``block_size``, ``mlp_hidden``, ``rank``) must be the one its weights have, so
    that the model built from it is no larger than the file. DLoRError names the field, the value
    and what the weights say."""
    if not isinstance(config, dict):
        raise DLoRError(f"{path}: its dlor.lm config is not a JSON object")
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("blocks.") and k.split(".")[1].isdigit()}

    def first_dim(*keys: str, dim: int = 0):
        return next((int(state[k].shape[dim]) for k in keys if k in state and state[k].dim() > dim), None)

    found = {
        "n_layer": len(blocks),
        "vocab_size": first_dim("wte.weight"),
        "n_embd": first_dim("wte.weight", dim=1),
        "block_size": first_dim("wpe.weight"),
        "mlp_hidden": first_dim("blocks.0.mlp.up.weight", "blocks.0.mlp.up.U"),
        "rank": first_dim("blocks.0.attn.q.U", dim=1),
    }
    for name, have in found.items():
        if have is None or config.get(name) is None:
            continue  # absent from these weights (rank of a dense model), or a default GPTConfig gives
        value = config[name]
        if value != have:
            raise DLoRError(f"{path}: its config says {name} = {value!r} but its weights have {have}; the file is not consistent")


def load_model(path: str | Path, device: str | torch.device = "cpu") -> GPT:
    """The GPT saved at ``path`` by [`save_model`][dlor.lm.saved.save_model] (or a training checkpoint), on
    ``device``, in eval mode.

    Raises:
        DLoRError: no file, a file safetensors cannot read (torn, or not safetensors), or a
            safetensors file without a dlor.lm config (another model's weights).
    """
    from safetensors import safe_open

    from .._device import check_device

    path = Path(path)
    device = check_device(device)
    if not path.is_file():
        raise DLoRError(f"no saved model at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises its own error types for torn or foreign files
        raise DLoRError(
            f"{path} is not a readable safetensors file ({type(err).__name__}: {err}); was it cut short while being copied?"
        ) from None
    if _CONFIG_KEY not in meta and "progress" not in meta:
        raise DLoRError(
            f"{path} holds no dlor.lm config: it was not written by dlor.lm.save_model or dlor.lm.train "
            "(for a state_dict alone, build the GPT and use dlor.nn.load_checkpoint)"
        )
    try:
        if _CONFIG_KEY in meta:
            config = json.loads(meta[_CONFIG_KEY])
        else:  # a training checkpoint
            config, state = checkpoint_model(json.loads(meta["progress"]), state)
    except (ValueError, KeyError, TypeError) as err:
        raise DLoRError(f"{path}: its dlor.lm config cannot be read ({type(err).__name__}: {err})") from None
    _check_sizes_match_weights(path, config, state)  # before anything is built from the config
    try:
        model = GPT(GPTConfig(**config))
    except (ValueError, KeyError, TypeError) as err:  # DLoRError (a ValueError) included: a bad config value
        raise DLoRError(f"{path}: its dlor.lm config cannot build a GPT ({type(err).__name__}: {err})") from None
    if "wte.weight" in state:  # the head is tied to the embedding: save_model writes it once
        state.setdefault("head.weight", state["wte.weight"])
    check_state_fits(model, state, str(path))
    model = model.to(state["wte.weight"].dtype)  # the dtype it was trained in (load_state_dict would cast)
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
