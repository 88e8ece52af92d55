r"""Several pretraining runs of one model shape trained as one computation.

A learning-rate sweep trains the same [`GPT`][dlor.lm.GPT] at several rates; fresh seeds train
it from several initialisations. Small models are bound by per-step overhead, so [`train_batched`][dlor.lm.batched.train_batched]
stacks the ``R`` runs' parameters (``torch.func.stack_module_state``), evaluates all ``R`` losses
and gradients in one call (``vmap(grad(functional_call))``) and applies AdamW to the stacked
tensors with a learning rate per run. Each run sees exactly what [`train`][dlor.lm.trainer.train]
would give it: the same initialisation (``torch.manual_seed(seed)`` before building the model),
the same batches (a generator seeded by ``(seed, step)``), the same schedule, parameter groups
([`group_of`][dlor.lm.TrainSettings.group_of]), gradient clipping (per run) and AdamW update, so its
losses equal the one-at-a-time run's up to floating-point rounding (tested to 1e-5 relative).

``benchmarks/bench_lm.py`` measures what the batching buys against training the runs one at a
time.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from torch import Tensor
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from .._device import check_device
from .._errors import DLoRError
from .._files import replace_atomically
from .._progress import progress_bar
from .data import Corpus, sample_batch
from .model import GPT, GPTConfig
from .trainer import LN2, DivergedError, TrainSettings

__all__ = ["train_batched"]

BETAS = (0.9, 0.95)  # as make_optimizer
EPS = 1e-8  # torch.optim.AdamW's default


def _check_group(settings: list[TrainSettings]) -> None:
    if not settings:
        raise DLoRError("train_batched needs at least one TrainSettings")
    first = replace(settings[0], lr=1.0, seed=0)
    for s in settings[1:]:
        if replace(s, lr=1.0, seed=0) != first:
            raise DLoRError(
                "the runs of one batched group may differ only in lr and seed; "
                "train runs with other settings in a group of their own"
            )


def _batches(settings: list[TrainSettings], corpus: Corpus, block: int, step: int, device):
    """One training batch per run, ``(R, B, T)``, or one ``(B, T)`` shared by all when they share a seed."""
    seeds = sorted({s.seed for s in settings})

    def draw(seed):
        return sample_batch(corpus.train, settings[0].batch_size, block, torch.Generator().manual_seed(seed * 1_000_003 + step))

    if len(seeds) == 1:
        x, y = draw(seeds[0])
        return x.to(device), y.to(device), None
    pairs = {seed: draw(seed) for seed in seeds}
    x = torch.stack([pairs[s.seed][0] for s in settings]).to(device)
    y = torch.stack([pairs[s.seed][1] for s in settings]).to(device)
    return x, y, 0


def _save(path: Path, params: dict, moments: dict, meta: dict) -> None:
    from safetensors.torch import save_file

    tensors = {f"param.{k}": v.detach().contiguous().cpu() for k, v in params.items()}
    for which, state in moments.items():
        tensors |= {f"{which}.{k}": v.detach().contiguous().cpu() for k, v in state.items()}
    replace_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata={"progress": json.dumps(meta)}))


def _load(path: Path, params: dict, moments: dict, run: dict) -> dict | None:
    """Restore a group checkpoint in place; None when there is none, or it is torn or of another
    group (set aside with a one-line note, and the group starts again)."""
    from safetensors import safe_open

    from .._files import set_aside

    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()["progress"])
            if meta.get("run") != run:
                raise ValueError("it was written by another group of runs")
            loaded = {k: f.get_tensor(k) for k in f.keys()}
        with torch.no_grad():
            for k, v in params.items():
                v.copy_(loaded[f"param.{k}"])
            for which, state in moments.items():
                for k, v in state.items():
                    v.copy_(loaded[f"{which}.{k}"])
    except Exception as err:  # noqa: BLE001 - torn or foreign: any failure to read it back
        set_aside(path, f"{type(err).__name__}: {err}")
        return None
    return meta


def train_batched(
    cfg: GPTConfig,
    settings: list[TrainSettings],
    corpus: Corpus,
    device: str | torch.device = "cpu",
    checkpoint: str | Path | None = None,
    progress: bool = False,
) -> list[dict]:
    """Train ``len(settings)`` models of config ``cfg`` as one computation; one record per run.

    The runs may differ only in ``lr`` and ``seed``. Each record holds the configs, ``params`` and
    ``projection_params``, ``history`` (``[step, validation nats per byte]``), ``val_loss`` and
    ``val_bits_per_byte``, ``train_seconds`` (of the whole group) and ``tokens_per_second``
    (all runs' training tokens over that time). With ``checkpoint`` (a file path) the stacked
    parameters, AdamW moments and histories are written there every ``checkpoint_every`` steps
    (safetensors, atomically) and a later call resumes from it.

    Raises:
        DLoRError: the settings are empty or differ in more than ``lr`` and ``seed``, the variant
            is ``sparse+lowrank`` (its CSR product has no batching rule: train it with
            [`train`][dlor.lm.train]), the block size exceeds the validation split, or ``device``
            is not available here.
    """
    settings = list(settings)
    _check_group(settings)
    if cfg.variant == "sparse+lowrank":
        raise DLoRError(
            "sparse+lowrank cannot be trained batched (its sparse CSR product has no vmap rule); "
            "train it one run at a time with dlor.lm.train"
        )
    if cfg.block_size + 1 > corpus.val.numel():
        raise DLoRError(f"block size {cfg.block_size} is larger than the validation split ({corpus.val.numel()} bytes)")
    device = check_device(device)
    s0 = settings[0]
    dtype = getattr(torch, s0.dtype)
    models = []
    for s in settings:
        torch.manual_seed(s.seed)
        models.append(GPT(cfg).to(device=device, dtype=dtype))
    params, buffers = stack_module_state(models)
    params = {k: v.detach().clone() for k, v in params.items()}
    base = copy.deepcopy(models[0])  # a module to call with the stacked tensors (a meta copy mis-batches the tied head)
    kinds = {k: s0.group_of(k, v[0]) for k, v in params.items()}
    moments = {"m": {k: torch.zeros_like(v) for k, v in params.items()}, "v": {k: torch.zeros_like(v) for k, v in params.items()}}
    R, block = len(settings), cfg.block_size

    def loss_of(p, b, x, y):
        return functional_call(base, (p, b), (x, y))[1]

    run = json.loads(json.dumps({"model": cfg.to_dict(), "settings": [asdict(s) for s in settings]}))
    path = Path(checkpoint) if checkpoint is not None else None
    meta = _load(path, params, moments, run) if path is not None else None
    start, histories, seconds = (meta["step"], meta["history"], meta["seconds"]) if meta else (0, [[] for _ in settings], 0.0)
    shapes = {k: (R,) + (1,) * (v.dim() - 1) for k, v in params.items()}
    bar = progress_bar(range(start, s0.steps), desc=f"lm {cfg.variant} x{R}", disable=not progress, leave=False)
    for step in bar:
        t0 = time.perf_counter()
        x, y, dim = _batches(settings, corpus, block, step, device)
        grads, losses = vmap(grad_and_value(loss_of), in_dims=(0, 0, dim, dim))(params, buffers, x, y)
        if not bool(torch.isfinite(losses).all()):
            bad = [settings[i].lr for i in range(R) if not math.isfinite(float(losses[i].detach()))]
            raise DivergedError(
                f"the training loss is not finite at step {step + 1} for the learning rates {bad}; "
                "nothing more was saved. Leave those rates out"
            )
        with torch.no_grad():
            if s0.grad_clip:
                norm = torch.stack([g.pow(2).reshape(R, -1).sum(1) for g in grads.values()]).sum(0).sqrt()
                coef = (s0.grad_clip / (norm + 1e-6)).clamp(max=1.0)
            lr = torch.tensor([s.lr_at(step) for s in settings], device=device, dtype=dtype)
            t = step + 1
            bc1, bc2 = 1 - BETAS[0] ** t, math.sqrt(1 - BETAS[1] ** t)
            for k, p in params.items():
                g = grads[k] * coef.view(shapes[k]) if s0.grad_clip else grads[k]
                _, mult, decay = kinds[k]
                lr_k = (lr * mult).view(shapes[k])
                if decay:
                    p.mul_(1 - lr_k * decay)
                m, v = moments["m"][k], moments["v"][k]
                m.lerp_(g, 1 - BETAS[0])
                v.mul_(BETAS[1]).addcmul_(g, g, value=1 - BETAS[1])
                p.sub_(lr_k / bc1 * m / (v.sqrt() / bc2).add_(EPS))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds += time.perf_counter() - t0
        if t % s0.eval_every == 0 or t == s0.steps:
            losses = _evaluate(loss_of, params, buffers, corpus, s0, block, device)
            for h, value in zip(histories, losses, strict=True):
                h.append([t, value])
            bar.set_postfix(val=f"{min(losses):.3f}")
        if path is not None and (t % s0.checkpoint_every == 0 or t == s0.steps):
            _save(path, params, moments, {"step": t, "history": histories, "seconds": seconds, "run": run})
    tokens = s0.steps * s0.batch_size * block * R
    n_params, n_proj = models[0].num_params(), models[0].projection_params()
    out = []
    for s, h in zip(settings, histories, strict=True):
        val: float = h[-1][1] if h else float("nan")
        out.append(
            {
                "model_config": cfg.to_dict(),
                "settings": asdict(s),
                "params": n_params,
                "projection_params": n_proj,
                "history": h,
                "val_loss": val,
                "val_bits_per_byte": val / LN2,
                "train_seconds": seconds,
                "tokens_per_second": tokens / seconds if seconds > 0 else float("nan"),
                "batched_runs": R,
            }
        )
    return out


@torch.no_grad()
def _evaluate(loss_of, params, buffers, corpus: Corpus, s: TrainSettings, block: int, device) -> list[float]:
    """Every run's mean cross-entropy on the same ``eval_batches`` fixed validation batches as
    ``evaluate``."""
    total: Tensor | None = None
    for k in range(s.eval_batches):
        x, y = sample_batch(corpus.val, s.batch_size, block, torch.Generator().manual_seed(10**9 + k))
        losses = vmap(loss_of, in_dims=(0, 0, None, None))(params, buffers, x.to(device), y.to(device))
        total = losses if total is None else total + losses
    assert total is not None  # eval_batches >= 1
    return [float(v) / s.eval_batches for v in total]
