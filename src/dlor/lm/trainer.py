r"""Pretraining the [`GPT`][dlor.lm.model.GPT] on byte tokens: AdamW, resumable, data-parallel.

One training run is [`train`][dlor.lm.trainer.train]. It is the same code on one process, under ``torchrun`` with
PyTorch's ``DistributedDataParallel`` (gloo on CPU, nccl on GPU), and on any device::

    torchrun --nproc_per_node=2 -m dlor lm train --variant dlor --steps 200 --out model.safetensors

Step ``s`` draws one global batch of ``batch_size`` windows from a generator seeded by
``(seed, s)``; every process takes an equal contiguous slice of it and DDP averages the
gradients, so the parameters after each step equal those of one process on the whole batch
(tested). Because the batches depend only on the step, a run resumes exactly from a checkpoint:
with ``run_dir`` the model, the AdamW state and the history are written every
``checkpoint_every`` steps to one safetensors file (atomically; the step and history ride in its
metadata), and a later call with the same ``run_dir`` continues from there.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from .._device import check_device
from .._errors import DLoRError
from .._files import replace_atomically
from .._progress import progress_bar
from ..train.ddp import process_rank_and_world
from .data import Corpus, sample_batch
from .model import GPT, GPTConfig

__all__ = ["DivergedError", "TrainSettings", "train", "evaluate", "make_optimizer", "training_memory", "warmup_cosine"]

LN2 = math.log(2.0)


class DivergedError(DLoRError):
    """The training loss became NaN or infinite (the learning rate is too large for this model)."""


@dataclass
class TrainSettings:
    """Optimisation settings (nanoGPT's defaults for small character models, scaled down).

    ``batch_size`` is the global number of windows per step. The learning rate warms up linearly
    for ``warmup`` steps, then follows a cosine to ``min_lr_ratio * lr`` at ``steps``. Validation
    loss: ``eval_batches`` fixed batches of the validation split, every ``eval_every`` steps and
    at the end.

    The choices that can decide a comparison of projection variants are fields of their own:

    * ``lr``: the peak learning rate. Structured-pretraining papers tune it per method: GaLore
      (Zhao et al. 2024) sweeps {1e-2, 5e-3, 1e-3, 5e-4, 1e-4} for every method; SLTrain (Han et
      al. 2024) and CoLA train their low-rank layers at 3e-3 against at most 1e-3 for dense.
    * ``lr_mult_u``, ``lr_mult_v``, ``lr_mult_alpha``, ``lr_mult_sparse``: the learning rate of
      each group of a structured layer is ``lr`` times its multiplier (all 1 by default, as in
      GaLore and SLTrain). "Compute Better Spent" (Qiu et al. 2024) scales each factor's rate
      with its shape (muP-style) and shows that an unscaled rate can make a structured layer
      look worse than it is.
    * ``weight_decay``: on the dense matrices (embeddings and ``nn.Linear`` weights), as nanoGPT.
    * ``factor_weight_decay``: on ``U`` and ``V``. GaLore, SLTrain and ReLoRA use none; 0.1
      follows nanoGPT's setting for every matrix.

    ``alpha``, the sparse values, norms and biases are never decayed.
    """

    steps: int = 1000
    batch_size: int = 16
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup: int = 50
    weight_decay: float = 0.1
    factor_weight_decay: float = 0.1
    lr_mult_u: float = 1.0
    lr_mult_v: float = 1.0
    lr_mult_alpha: float = 1.0
    lr_mult_sparse: float = 1.0
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_batches: int = 8
    checkpoint_every: int = 200
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "eval_batches", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DLoRError(f"{name} must be a positive integer, got {value!r}")
        if self.dtype not in ("float32", "float64"):
            raise DLoRError(f"dtype must be float32 or float64, got {self.dtype!r}")
        for name in ("lr", "lr_mult_u", "lr_mult_v", "lr_mult_alpha", "lr_mult_sparse"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
                raise DLoRError(f"{name} must be a positive finite number, got {value!r}")
        for name in ("weight_decay", "factor_weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0):
                raise DLoRError(f"{name} must be a finite number >= 0, got {value!r}")

    def group_of(self, name: str, param: torch.Tensor) -> tuple[str, float, float]:
        """``(group, learning-rate multiplier, weight decay)`` of the parameter called ``name``."""
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("U", "V"):
            return leaf, self.lr_mult_u if leaf == "U" else self.lr_mult_v, self.factor_weight_decay
        if leaf == "alpha":
            return "alpha", self.lr_mult_alpha, 0.0
        if leaf == "values":
            return "sparse", self.lr_mult_sparse, 0.0
        if param.dim() >= 2:
            return "matrix", 1.0, self.weight_decay
        return "other", 1.0, 0.0

    def lr_at(self, step: int) -> float:
        return warmup_cosine(self.lr, step, self.warmup, self.steps, self.min_lr_ratio)


def warmup_cosine(lr: float, step: int, warmup: int, steps: int, min_lr_ratio: float) -> float:
    """The rate at ``step``: linear warm-up to ``lr`` over ``warmup`` steps, then a cosine down to
    ``min_lr_ratio * lr`` at ``steps``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


class EvalBatches(Protocol):
    """What [`evaluate`][dlor.lm.trainer.evaluate] reads of its settings."""

    @property
    def batch_size(self) -> int: ...
    @property
    def eval_batches(self) -> int: ...


def make_optimizer(model: nn.Module, s: TrainSettings) -> torch.optim.AdamW:
    """AdamW (betas 0.9, 0.95), one parameter group per kind ([`TrainSettings.group_of`][dlor.lm.trainer.TrainSettings.group_of]):
    its own rate multiplier (``lr_mult``, applied to every step's ``lr``) and weight decay."""
    groups: dict[str, dict] = {}
    for name, p in model.named_parameters():
        kind, mult, decay = s.group_of(name, p)
        groups.setdefault(kind, {"params": [], "lr_mult": mult, "weight_decay": decay, "lr": s.lr * mult})["params"].append(p)
    return torch.optim.AdamW(list(groups.values()), lr=s.lr, betas=(0.9, 0.95))


@torch.no_grad()
def evaluate(model: nn.Module, data: torch.Tensor, s: EvalBatches, block: int, device, offset: int = 0) -> float:
    """Mean cross-entropy in nats per byte on ``eval_batches`` fixed batches of ``data`` (batch
    ``k`` drawn with the seed ``10**9 + offset + k``: another ``offset``, other fixed batches)."""
    was = model.training
    model.eval()
    total = 0.0
    for k in range(s.eval_batches):
        x, y = sample_batch(data, s.batch_size, block, torch.Generator().manual_seed(10**9 + offset + k))
        total += float(model(x.to(device), y.to(device))[1])
    model.train(was)
    return total / s.eval_batches


def training_memory(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Bytes held by one training step: parameters, gradients, AdamW's two moments, and the
    activations autograd saves for the backward pass (counted through saved-tensor hooks, each
    storage once, parameters excluded). Device-independent; on CUDA the allocator's peak is added."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        if t.layout != torch.strided:  # the sparse S of sparse+lowrank: its parts are parameters and buffers
            return t
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    if x.is_cuda:
        torch.cuda.reset_peak_memory_stats(x.device)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(x, y)[1]
    loss.backward()
    model.zero_grad(set_to_none=True)
    p_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    out = {"parameter_bytes": p_bytes, "activation_bytes": sum(seen.values()), "training_bytes": 4 * p_bytes + sum(seen.values())}
    if x.is_cuda:
        out["cuda_peak_bytes"] = torch.cuda.max_memory_allocated(x.device)
    return out


def _save(path: Path, model: nn.Module, opt: torch.optim.Optimizer, meta: dict) -> None:
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    for i, p in enumerate(model.parameters()):
        for key, value in opt.state.get(p, {}).items():
            tensors[f"optim.{i}.{key}"] = value.detach().clone().contiguous().reshape(value.shape)
    replace_atomically(
        path, lambda tmp: save_file({k: v.cpu() for k, v in tensors.items()}, str(tmp), metadata={"progress": json.dumps(meta)})
    )


def checkpoint_model(progress: dict, tensors: dict) -> tuple[dict, dict]:
    """``(model config dict, model state_dict)`` of a training checkpoint written by ``_save``,
    from its ``progress`` metadata (parsed) and its tensors.

    Raises:
        KeyError: ``progress`` names no model config.
    """
    return progress["run"]["model"], {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}


def _load(path: Path, model: nn.Module, opt: torch.optim.Optimizer, device, run: dict, rank: int = 0) -> dict | None:
    """Restore a checkpoint into ``model`` and ``opt``; None when there is none, or it is torn or of
    another run (other model or settings, ``run``): such a file is set aside and the run starts again."""
    from safetensors import safe_open

    from .._files import set_aside

    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()["progress"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        if meta.get("run") != run:
            raise ValueError("it was written by a run with another model or other settings")
    except Exception as err:  # a torn or foreign file: start the run again, keep the file for inspection
        if rank == 0:
            set_aside(path, f"{type(err).__name__}: {err}")
        return None
    model.load_state_dict(checkpoint_model(meta, tensors)[1], strict=True)
    for i, p in enumerate(model.parameters()):
        state = {k.split(".", 2)[2]: v.to(device) for k, v in tensors.items() if k.startswith(f"optim.{i}.")}
        if state:
            opt.state[p] = state
    return meta


def train(
    cfg: GPTConfig,
    s: TrainSettings,
    corpus: Corpus,
    device: str | torch.device = "cpu",
    run_dir=None,
    compile: bool = False,
    progress: bool = False,
    data_parallel: bool = True,
) -> dict:
    """Train one model from scratch (or from ``run_dir``'s checkpoint) and return its record.

    Returns a dict: the configs, ``params`` and ``projection_params``, ``history`` (``[step,
    validation nats per byte]``), ``val_loss`` (nats per byte) and ``val_bits_per_byte``,
    ``tokens_per_second`` (training steps only), the ``training_memory`` figures and, in
    ``model``, the trained module.

    With an initialised process group (under ``torchrun``) and ``data_parallel`` (the default),
    every process of the group trains this one model with ``DistributedDataParallel`` on its slice
    of each global batch. ``data_parallel=False`` trains it in this process alone whatever the
    group: for work shared out one model per process (``dlor reproduce lm`` under ``torchrun``).

    Raises:
        DLoRError: the block size exceeds the validation split, the batch does not divide among
            the processes, or ``device`` is not available here (cuda on a machine without it).
    """
    if cfg.block_size + 1 > corpus.val.numel():
        raise DLoRError(f"block size {cfg.block_size} is larger than the validation split ({corpus.val.numel()} bytes)")
    rank, world = process_rank_and_world() if data_parallel else (0, 1)
    if s.batch_size % world:
        raise DLoRError(f"batch_size = {s.batch_size} must be divisible by the number of processes ({world})")
    device = check_device(device)
    dtype = getattr(torch, s.dtype)
    torch.manual_seed(s.seed)
    model = GPT(cfg).to(device=device, dtype=dtype)
    opt = make_optimizer(model, s)
    path = Path(run_dir) / "checkpoint.safetensors" if run_dir is not None else None
    run = json.loads(json.dumps({"model": cfg.to_dict(), "settings": asdict(s)}))  # as read back from JSON
    meta = _load(path, model, opt, device, run, rank) if path is not None else None
    start, history, seconds = (meta["step"], meta["history"], meta["seconds"]) if meta else (0, [], 0.0)
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    step_fn = torch.compile(net) if compile else net
    local = s.batch_size // world
    block = cfg.block_size
    bar = progress_bar(range(start, s.steps), desc=f"lm {cfg.variant}", disable=not progress or rank != 0, leave=False)
    for step in bar:
        t0 = time.perf_counter()
        x, y = sample_batch(corpus.train, s.batch_size, block, torch.Generator().manual_seed(s.seed * 1_000_003 + step))
        x, y = x[rank * local : (rank + 1) * local].to(device), y[rank * local : (rank + 1) * local].to(device)
        for group in opt.param_groups:
            group["lr"] = s.lr_at(step) * group["lr_mult"]
        loss = step_fn(x, y)[1]
        if not bool(torch.isfinite(loss.detach())):  # stop before a NaN reaches the weights or a checkpoint
            raise DivergedError(
                f"the training loss is not finite at step {step + 1} (learning rate {s.lr_at(step):.3g}); "
                "nothing more was saved. Use a smaller --lr"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if s.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds += time.perf_counter() - t0
        done = step + 1
        if done % s.eval_every == 0 or done == s.steps:
            history.append([done, evaluate(model, corpus.val, s, block, device)])
            bar.set_postfix(val=f"{history[-1][1]:.3f}")
        if path is not None and (done % s.checkpoint_every == 0 or done == s.steps) and rank == 0:
            _save(path, model, opt, {"step": done, "history": history, "seconds": seconds, "run": run})
    x, y = sample_batch(corpus.train, local, block, torch.Generator().manual_seed(s.seed))
    memory = training_memory(model, x.to(device), y.to(device))
    tokens = (s.steps) * s.batch_size * block
    val = history[-1][1] if history else evaluate(model, corpus.val, s, block, device)
    return {
        "model_config": cfg.to_dict(),
        "settings": asdict(s),
        "params": model.num_params(),
        "projection_params": model.projection_params(),
        "history": history,
        "val_loss": val,
        "val_bits_per_byte": val / LN2,
        "tokens_per_second": tokens / seconds if seconds > 0 else float("nan"),
        "train_seconds": seconds,
        **memory,
        "model": model,
    }
