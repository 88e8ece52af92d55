"""The fine-tuning methods on one frozen source model, and the loop that trains each of them.

* ``none``: the source model as it is (the floor);
* ``full``: every parameter trains (the ceiling);
* ``lora``: PEFT's LoRA (``peft.LoraConfig``);
* ``dora``: PEFT's DoRA (``peft.LoraConfig(use_dora=True)``);
* ``dlor``: the DLoR adapter ``s (alpha I + U V^T)`` (``dlor.peft.DLoRConfig``, alpha from 0).

The three adapters target the same projections (every attention q, k, v, out and MLP up, down)
at the same rank ``r`` and scale ``s = 1`` (``lora_alpha = scaling_alpha = r``), with no dropout.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...lm.data import sample_batch
from ...lm.trainer import evaluate, warmup_cosine

METHODS = ("none", "full", "lora", "dora", "dlor")
ADAPTERS = ("lora", "dora", "dlor")
TARGET_MODULES = ["q", "k", "v", "out", "up", "down"]


def adapted(source: nn.Module, method: str, rank: int) -> nn.Module:
    """A copy of ``source`` ready to fine-tune with ``method``: its trainable parameters are the
    method's own (all of them for ``full``, none for ``none``)."""
    model = copy.deepcopy(source)
    if method in ("none", "full"):
        for p in model.parameters():
            p.requires_grad_(method == "full")
        return model
    import peft

    import dlor.peft

    config: peft.PeftConfig
    if method == "dlor":
        config = dlor.peft.DLoRConfig(r=rank, scaling_alpha=float(rank), target_modules=TARGET_MODULES)
    else:
        config = peft.LoraConfig(
            r=rank, lora_alpha=rank, lora_dropout=0.0, target_modules=TARGET_MODULES, use_dora=method == "dora"
        )
    return peft.get_peft_model(model, config)


def trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass(frozen=True)
class Schedule:
    """AdamW (betas 0.9, 0.95, no weight decay), linear warm-up then cosine to ``min_lr_ratio * lr``."""

    steps: int
    batch_size: int
    block: int
    warmup: int
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    eval_batches: int = 8

    def lr_at(self, lr: float, step: int) -> float:
        return warmup_cosine(lr, step, self.warmup, self.steps, self.min_lr_ratio)


def loss_on(model: nn.Module, data: Tensor, sched: Schedule, offset: int = 0) -> float:
    """Mean cross-entropy in nats per byte on ``sched.eval_batches`` fixed batches of ``data``."""
    return evaluate(model, data, sched, sched.block, "cpu", offset)


def finetune(model: nn.Module, train: Tensor, sched: Schedule, lr: float, seed: int) -> tuple[float, bool]:
    """Train ``model``'s trainable parameters on ``train``; returns ``(seconds per step, finite)``.

    A loss that stops being finite ends the run (``finite = False``): that rate diverged."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params or sched.steps == 0:
        return 0.0, True
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    model.train()
    start = time.perf_counter()
    for step in range(sched.steps):
        x, y = sample_batch(train, sched.batch_size, sched.block, torch.Generator().manual_seed(seed * 1_000_003 + step))
        for group in opt.param_groups:
            group["lr"] = sched.lr_at(lr, step)
        loss = model(x, y)[1]
        if not bool(torch.isfinite(loss.detach())):
            return (time.perf_counter() - start) / (step + 1), False
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, sched.grad_clip)
        opt.step()
    return (time.perf_counter() - start) / sched.steps, True
