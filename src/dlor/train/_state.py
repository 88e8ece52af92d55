r"""The vectorized trainer's state and the pure functions of one epoch.

[`TrainState`][dlor.train.TrainState] holds everything that changes from epoch to epoch for a group of ``B``
models: the flat ``(B, D)`` parameters, Adam's moments and step counts, each model's learning
rate and ``ReduceLROnPlateau`` counters, and the bookkeeping of success and failure. Every
function here takes a state and returns a new one (no argument is mutated), so an epoch can be
traced by ``make_fx`` and compiled by TorchInductor (``NamedTuple`` is a pytree), or run eagerly;
both compute the same arithmetic.

* [`adam_update`][dlor.train.adam_update]: one ``torch.optim.Adam`` step (single-tensor path) of the models in a mask;
* [`plateau_update`][dlor.train.plateau_update]: the end-of-epoch bookkeeping and one ``ReduceLROnPlateau`` step on each
  model's own loss;
* ``make_epoch``: the epoch of a group, full batch or over shuffled minibatches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor

from .._errors import DLoRError
from ._batched import batched_forward
from ._inductor import compile_pure

if TYPE_CHECKING:
    from ._config import TrainConfig

__all__ = ["TrainState", "init_state", "adam_update", "plateau_update", "make_epoch", "unflatten"]


class TrainState(NamedTuple):
    """The per-model state of a group of ``B`` models (a pytree of tensors).

    Attributes:
        params: ``(B, D)`` every model's parameters, flattened in the order of the group's names.
        exp_avg: ``(B, D)`` Adam's first moment.
        exp_avg_sq: ``(B, D)`` Adam's second moment.
        step: ``(B,)`` Adam steps taken (in the parameters' dtype, as ``torch.optim.Adam`` keeps it).
        lr: ``(B,)`` each model's learning rate.
        best: ``(B,)`` ``ReduceLROnPlateau``'s best loss so far.
        bad: ``(B,)`` long, its count of epochs without improvement.
        active: ``(B,)`` bool, still training (not failed, not stopped early).
        failed: ``(B,)`` bool, stopped by a non-finite loss or gradient.
        first_below: ``(B,)`` long, the first epoch whose loss fell below the success threshold (-1: none).
        last_loss: ``(B,)`` the loss of the last epoch trained.
    """

    params: Tensor
    exp_avg: Tensor
    exp_avg_sq: Tensor
    step: Tensor
    lr: Tensor
    best: Tensor
    bad: Tensor
    active: Tensor
    failed: Tensor
    first_below: Tensor
    last_loss: Tensor


def init_state(params: Tensor, lr: float | Sequence[float]) -> TrainState:
    """The state before the first epoch: zero moments and steps, every model at rate ``lr`` (one
    rate for all, or one per model: a grid of rates is one more batch dimension of a group)."""
    B, dtype, device = params.shape[0], params.dtype, params.device
    rates = torch.full((B,), lr, dtype=dtype) if isinstance(lr, (int, float)) else torch.tensor(list(lr), dtype=dtype)
    if rates.shape != (B,) or not bool(torch.isfinite(rates).all() and (rates > 0).all()):
        raise DLoRError(f"learning rates must be one positive number or one per model ({B}), got {lr!r}")
    return TrainState(
        params=params,
        exp_avg=torch.zeros_like(params),
        exp_avg_sq=torch.zeros_like(params),
        step=torch.zeros(B, dtype=dtype, device=device),
        lr=rates.to(device),
        best=torch.full((B,), math.inf, dtype=dtype, device=device),
        bad=torch.zeros(B, dtype=torch.long, device=device),
        active=torch.ones(B, dtype=torch.bool, device=device),
        failed=torch.zeros(B, dtype=torch.bool, device=device),
        first_below=torch.full((B,), -1, dtype=torch.long, device=device),
        last_loss=torch.full((B,), math.nan, dtype=dtype, device=device),
    )


def unflatten(flat: Tensor, names, shapes, sizes) -> dict[str, Tensor]:
    """``{name: (B, *shape)}`` views into the flat ``(B, D)`` parameter tensor."""
    out, off = {}, 0
    for n, shape, size in zip(names, shapes, sizes, strict=True):
        out[n] = flat[:, off : off + size].view(flat.shape[0], *shape)
        off += size
    return out


def adam_update(state: TrainState, grad: Tensor, mask: Tensor, betas: tuple[float, float], eps: float) -> TrainState:
    """One step of ``torch.optim.Adam``'s single-tensor path for the models in ``mask`` ``(B,)``.

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g²``, ``t <- t + 1`` and
    ``θ <- θ - lr m / (1 - b1^t) / (sqrt(v) / sqrt(1 - b2^t) + eps)``; the other models keep theirs.
    """
    b1, b2 = betas
    g = torch.where(mask[:, None], grad, torch.zeros_like(grad))
    m = state.exp_avg.lerp(g, 1 - b1)
    v = state.exp_avg_sq.mul(b2).addcmul_(g, g, value=1 - b2)
    step = state.step + 1
    bc1 = 1 - b1**step
    bc2_sqrt = (1 - b2**step).sqrt()
    denom = (v.sqrt() / bc2_sqrt[:, None]).add_(eps)
    new = state.params.addcdiv(m, denom * (bc1 / state.lr)[:, None], value=-1.0)
    a = mask[:, None]
    return state._replace(
        params=torch.where(a, new, state.params),
        exp_avg=torch.where(a, m, state.exp_avg),
        exp_avg_sq=torch.where(a, v, state.exp_avg_sq),
        step=torch.where(mask, step, state.step),
    )


def plateau_update(state: TrainState, loss: Tensor, mask: Tensor, epoch: Tensor, cfg: TrainConfig) -> TrainState:
    """The end of an epoch for the models in ``mask``: the last loss, the first epoch below
    ``cfg.success_threshold``, and one ``ReduceLROnPlateau`` step (mode min, relative threshold
    ``cfg.plateau_threshold``, ``patience``, ``factor``, ``min_lr``, no cooldown) on each model's
    own ``loss`` ``(B,)``; a model leaves ``active`` outside ``mask`` or below ``cfg.stop_below``."""
    last_loss = torch.where(mask, loss, state.last_loss)
    first_below = torch.where(mask & (state.first_below < 0) & (loss < cfg.success_threshold), epoch, state.first_below)
    better = loss < state.best * (1 - cfg.plateau_threshold)
    best = torch.where(mask & better, loss, state.best)
    bad = torch.where(mask, torch.where(better, 0, state.bad + 1), state.bad)
    reduce = mask & (bad > cfg.patience)
    new_lr = torch.clamp(state.lr * cfg.factor, min=cfg.min_lr)
    lr = torch.where(reduce & (state.lr - new_lr > 1e-8), new_lr, state.lr)
    bad = torch.where(reduce, 0, bad)
    active = state.active & mask
    if cfg.stop_below is not None:
        active = active & ~(loss < cfg.stop_below)
    return state._replace(lr=lr, best=best, bad=bad, active=active, first_below=first_below, last_loss=last_loss)


def _compiled(fn, name: str):
    """``fn(state, *rest) -> TrainState`` compiled by ``compile_pure`` over the state's tensors."""
    n = len(TrainState._fields)
    flat = compile_pure(lambda *args: tuple(fn(TrainState(*args[:n]), *args[n:])), name)

    def call(state: TrainState, *rest) -> TrainState:
        return TrainState._make(flat(*state, *rest))

    call.graphs = flat.graphs  # type: ignore[attr-defined]
    return call


def make_epoch(
    arch: str,
    k,
    n_layers,
    names,
    shapes,
    sizes,
    cfg: TrainConfig,
    functional: bool,
    compile_name: str | None = None,
    activation: str = "softplus",
):
    """The pure function ``epoch_fn(state, epoch, x, y, order) -> state`` of one epoch.

    Per model: MSE loss, its gradient, one [`adam_update`][dlor.train.adam_update] per batch and one
    [`plateau_update`][dlor.train.plateau_update] per epoch; a model with a non-finite loss or gradient is marked failed
    and frozen, the others go on. ``functional`` takes the gradient with
    ``torch.func.grad_and_value`` (traceable by ``make_fx``), otherwise with
    ``torch.autograd.grad`` (less overhead when run eagerly); the arithmetic is the same.
    ``compile_name``: compile the pieces with ``compile_pure`` under that name.

    Full batch (``cfg.batch_size is None``): one step on the whole training set; the schedule,
    the success threshold and early stopping read the loss of that step (as a loop that calls
    ``scheduler.step(loss.item())`` after ``optimizer.step()``). ``order`` is ignored.

    Minibatches: ``order`` ``(B, n)`` is each model's order of the training set this epoch; the
    steps take its consecutive slices of ``batch_size`` points, the last one the ``n mod
    batch_size`` points left over when that is not zero (``DataLoader``'s ``drop_last=False``),
    each step's loss the mean over its own batch. After the last step, the MSE on the full
    training set (one more forward pass) feeds the schedule, the threshold and early stopping.
    """
    bs = cfg.batch_size

    def per_model_mse(flat, x, y):
        P = unflatten(flat, names, shapes, sizes)
        out = batched_forward(arch, P, x, k=k, n_layers=n_layers, broadcast=compile_name is not None, activation=activation)
        return ((out - y) ** 2).mean(dim=(1, 2))  # (B,)

    def loss_fn(flat, x, y):
        loss = per_model_mse(flat, x, y)
        return loss.sum(), loss

    def gradient(flat, x, y):
        if functional:
            grad, (_, loss) = torch.func.grad_and_value(loss_fn, has_aux=True)(flat, x, y)
            return grad, loss
        with torch.enable_grad():
            leaf = flat.detach().requires_grad_(True)
            total, loss = loss_fn(leaf, x, y)
            (grad,) = torch.autograd.grad(total, leaf)
        return grad, loss.detach()

    def step_on(state: TrainState, x, y) -> tuple[TrainState, Tensor, Tensor]:
        """One Adam step of the active models on ``(x, y)``; returns the state, the losses and the mask."""
        grad, loss = gradient(state.params, x, y)
        finite = torch.isfinite(loss) & torch.isfinite(grad).all(dim=1)
        state = state._replace(failed=state.failed | (state.active & ~finite))
        act = state.active & finite
        return adam_update(state, grad, act, cfg.betas, cfg.eps), loss, act

    def full_batch_epoch(state: TrainState, epoch, x, y, order) -> TrainState:
        state, loss, act = step_on(state, x, y)
        return plateau_update(state, loss, act, epoch, cfg)

    def minibatch_update(state: TrainState, xb, yb) -> TrainState:
        """One Adam step of every active model on its own minibatch ``xb`` ``(B, b, d)``."""
        state, _, act = step_on(state, xb, yb)
        return state._replace(active=act)

    def minibatch_last(state: TrainState, epoch, xb, yb, x, y) -> TrainState:
        """The epoch's last step (on its possibly partial batch), then the full training MSE of
        every model and [`plateau_update`][dlor.train.plateau_update]: one compiled call instead of two (every call
        costs 60-200 us of wrapper overhead)."""
        state = minibatch_update(state, xb, yb)
        full = per_model_mse(state.params, x, y)
        finite = torch.isfinite(full)
        state = state._replace(failed=state.failed | (state.active & ~finite))
        return plateau_update(state, full, state.active & finite, epoch, cfg)

    if compile_name is not None:  # two graphs per epoch (the full steps; the last step and the end), not one:
        # an epoch unrolled into a single graph compiled 5-10x slower (3 minutes for deep k=16 at
        # batch size 16, measured) and ran only 1.03-1.6x faster
        full_batch_epoch = _compiled(full_batch_epoch, f"epoch_{compile_name}")
        minibatch_last = _compiled(minibatch_last, f"epoch_{compile_name}_last")
        minibatch_update = _compiled(minibatch_update, f"epoch_{compile_name}_update")

    def minibatch_epoch(state: TrainState, epoch, x, y, order) -> TrainState:
        if x.dim() == 2:  # one training set for all models
            xs, ys = x[order], y[order]  # (B, n, d), (B, n, out)
        else:  # (B, n, d): a training set per model
            xs = x.gather(1, order[:, :, None].expand(-1, -1, x.shape[-1]))
            ys = y.gather(1, order[:, :, None].expand(-1, -1, y.shape[-1]))
        # ceil(n / bs) steps: the full batches, then the last one, possibly partial. The full
        # batches are laid out (steps, B, bs, d) by one copy, so each step's batch is a
        # contiguous view (a copy per step costs more than the small step's own kernels)
        B, n = order.shape
        last = (n - 1) // bs * bs
        xf = xs[:, :last].reshape(B, last // bs, bs, xs.shape[-1]).transpose(0, 1).contiguous()
        yf = ys[:, :last].reshape(B, last // bs, bs, ys.shape[-1]).transpose(0, 1).contiguous()
        for i in range(last // bs):
            state = minibatch_update(state, xf[i], yf[i])
        return minibatch_last(state, epoch, xs[:, last:].contiguous(), ys[:, last:].contiguous(), x, y)

    return full_batch_epoch if bs is None else minibatch_epoch
