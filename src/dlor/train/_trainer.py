r"""A vectorized trainer: many independent models of one architecture as one batched computation.

Each model has its own Adam state (``torch.optim.Adam`` defaults: betas (0.9, 0.999), eps 1e-8)
and its own ``ReduceLROnPlateau`` (mode min, relative threshold 1e-4, no cooldown) stepped on its
own training loss, exactly as when each model is trained alone; the tests compare the two.
Parameters of all ``B`` models live in one flat ``(B, D)`` tensor, so an optimiser step is a
handful of tensor operations whatever ``B`` is.

An epoch is full batch (``TrainConfig(batch_size=None)``: one Adam step on the whole training
set) or a pass over shuffled minibatches (``batch_size=b``: ``ceil(n / b)`` Adam steps; each model
draws its own order every epoch from its seed, see :func:`epoch_orders`). One epoch (forward,
gradients, Adam, plateau schedule, bookkeeping) is a pure function of the state tensors
(:func:`_make_step`). With ``TrainConfig(compile=True)`` its pieces are compiled by TorchInductor
(:func:`~dlor.train._inductor.compile_pure`: one fused kernel per minibatch step, called without
Dynamo; 3-5x faster per epoch on CPU after a compile of 10-60 s, measured), otherwise they run
eagerly; both compute the same arithmetic.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._device import check_device
from .._errors import DLoRError
from .._files import set_aside, temporary_beside
from ._batched import batched_forward, make_module, stack_modules
from ._inductor import compile_pure

__all__ = ["TrainConfig", "GroupTrainer", "GroupSpec", "epoch_orders"]

_ORDER_CHUNK = 64  # epochs of shuffles drawn at once per model
_ORDER_KEY = 0x5EED_0D0E  # keeps the shuffle streams apart from the initialisation's (which uses the bare seed)


def _chunk_orders(seed: int, n: int, chunk: int) -> Tensor:
    """Orders of epochs ``chunk * 64 + 1 .. (chunk + 1) * 64`` for one model: ``(64, n)`` long."""
    state = np.random.SeedSequence([_ORDER_KEY, int(seed), int(chunk)]).generate_state(1, dtype=np.uint64)[0]
    gen = torch.Generator().manual_seed(int(state))
    return torch.rand(_ORDER_CHUNK, n, generator=gen, dtype=torch.float64).argsort(dim=1)


def epoch_orders(seed: int, n: int, first_epoch: int, count: int) -> Tensor:
    """The order in which the model with ``seed`` visits its ``n`` training points in epochs
    ``first_epoch .. first_epoch + count - 1`` (epochs count from 1): ``(count, n)`` long.

    Each is a uniformly random permutation that depends only on ``(seed, epoch)``, not on the
    other models of a group nor on where a run was resumed; a plain ``torch.optim`` loop that
    takes its minibatches in these orders trains exactly as the vectorized trainer does.
    """
    if seed < 0:
        raise DLoRError(f"seeds must be non-negative integers, got {seed}")
    parts, e, end = [], first_epoch - 1, first_epoch - 1 + count  # 0-based, end exclusive
    while e < end:
        chunk = e // _ORDER_CHUNK
        lo, hi = e - chunk * _ORDER_CHUNK, min(_ORDER_CHUNK, end - chunk * _ORDER_CHUNK)
        parts.append(_chunk_orders(seed, n, chunk)[lo:hi])
        e = chunk * _ORDER_CHUNK + hi
    return torch.cat(parts) if parts else torch.empty(0, n, dtype=torch.long)

# The per-model state carried from epoch to epoch, in the order of the step function's arguments.
_STATE = ("flat", "exp_avg", "exp_avg_sq", "step_count", "lr", "best", "bad", "active", "failed", "first_below", "last_loss")


def _unflatten(flat: Tensor, names, shapes, sizes) -> dict[str, Tensor]:
    """``{name: (B, *shape)}`` views into the flat ``(B, D)`` parameter tensor."""
    out, off = {}, 0
    for n, shape, size in zip(names, shapes, sizes, strict=True):
        out[n] = flat[:, off : off + size].view(flat.shape[0], *shape)
        off += size
    return out


def _make_step(arch: str, k, n_layers, names, shapes, sizes, cfg: TrainConfig, functional: bool,
               compile_name: str | None = None, activation: str = "softplus"):
    """The pure function ``(state..., epoch, x, y, order) -> state`` of one epoch.

    Per model: MSE loss, its gradient, one ``torch.optim.Adam`` step (single-tensor path) per
    batch and one ``ReduceLROnPlateau`` step per epoch; a model with a non-finite loss or
    gradient is marked failed and frozen, the others go on. ``functional`` takes the gradient
    with ``torch.func.grad_and_value`` (traceable by ``make_fx``), otherwise with
    ``torch.autograd.grad`` (less overhead when run eagerly); the arithmetic is the same.
    ``compile_name``: compile the pieces with :func:`compile_pure` under that name.

    Full batch (``cfg.batch_size is None``): one step on the whole training set; the schedule,
    the success threshold and early stopping read the loss of that step (as a loop that calls
    ``scheduler.step(loss.item())`` after ``optimizer.step()``). ``order`` is ignored.

    Minibatches: ``order`` ``(B, n)`` is each model's order of the training set this epoch; the
    steps take its consecutive slices of ``batch_size`` points, the last one the ``n mod
    batch_size`` points left over when that is not zero (``DataLoader``'s ``drop_last=False``),
    each step's loss the mean over its own batch. After the last step, the MSE on the full
    training set (one more forward pass) feeds the schedule, the threshold and early stopping.
    """
    b1, b2 = cfg.betas
    bs = cfg.batch_size

    def per_model_mse(flat, x, y):
        P = _unflatten(flat, names, shapes, sizes)
        out = batched_forward(arch, P, x, k=k, n_layers=n_layers, broadcast=compile_name is not None,
                              activation=activation)
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

    def adam(flat, exp_avg, exp_avg_sq, step_count, lr, grad, act):
        """One step of torch.optim.Adam's single-tensor path for the models in ``act``."""
        g = torch.where(act[:, None], grad, torch.zeros_like(grad))
        m = exp_avg.lerp(g, 1 - b1)
        v = exp_avg_sq.mul(b2).addcmul_(g, g, value=1 - b2)
        new_step = step_count + 1
        bc1 = 1 - b1**new_step
        bc2_sqrt = (1 - b2**new_step).sqrt()
        denom = (v.sqrt() / bc2_sqrt[:, None]).add_(cfg.eps)
        new = flat.addcdiv(m, denom * (bc1 / lr)[:, None], value=-1.0)
        a = act[:, None]
        return (torch.where(a, new, flat), torch.where(a, m, exp_avg), torch.where(a, v, exp_avg_sq),
                torch.where(act, new_step, step_count))

    def end_of_epoch(loss, act, lr, best, bad, active, first_below, last_loss, epoch):
        """Bookkeeping and ReduceLROnPlateau on each model's own epoch loss."""
        last_loss = torch.where(act, loss, last_loss)
        first_below = torch.where(act & (first_below < 0) & (loss < cfg.success_threshold), epoch, first_below)
        better = loss < best * (1 - cfg.plateau_threshold)
        best = torch.where(act & better, loss, best)
        bad = torch.where(act, torch.where(better, 0, bad + 1), bad)
        reduce = act & (bad > cfg.patience)
        new_lr = torch.clamp(lr * cfg.factor, min=cfg.min_lr)
        lr = torch.where(reduce & (lr - new_lr > 1e-8), new_lr, lr)
        bad = torch.where(reduce, 0, bad)
        active = active & act
        if cfg.stop_below is not None:
            active = active & ~(loss < cfg.stop_below)
        return lr, best, bad, active, first_below, last_loss

    def full_batch_step(flat, exp_avg, exp_avg_sq, step_count, lr, best, bad, active, failed, first_below, last_loss,
                        epoch, x, y, order):
        grad, loss = gradient(flat, x, y)
        finite = torch.isfinite(loss) & torch.isfinite(grad).all(dim=1)
        failed = failed | (active & ~finite)
        act = active & finite
        flat, exp_avg, exp_avg_sq, step_count = adam(flat, exp_avg, exp_avg_sq, step_count, lr, grad, act)
        lr, best, bad, active, first_below, last_loss = end_of_epoch(loss, act, lr, best, bad, active, first_below,
                                                                     last_loss, epoch)
        return flat, exp_avg, exp_avg_sq, step_count, lr, best, bad, active, failed, first_below, last_loss

    def minibatch_update(flat, exp_avg, exp_avg_sq, step_count, lr, active, failed, xb, yb):
        """One Adam step of every active model on its own minibatch ``xb`` ``(B, b, d)``."""
        grad, loss = gradient(flat, xb, yb)
        finite = torch.isfinite(loss) & torch.isfinite(grad).all(dim=1)
        failed = failed | (active & ~finite)
        active = active & finite
        flat, exp_avg, exp_avg_sq, step_count = adam(flat, exp_avg, exp_avg_sq, step_count, lr, grad, active)
        return flat, exp_avg, exp_avg_sq, step_count, active, failed

    def minibatch_end(flat, lr, best, bad, active, failed, first_below, last_loss, epoch, x, y):
        """The full training MSE of every model, then the plateau schedule and bookkeeping."""
        full = per_model_mse(flat, x, y)
        finite = torch.isfinite(full)
        failed = failed | (active & ~finite)
        act = active & finite
        lr, best, bad, active, first_below, last_loss = end_of_epoch(full, act, lr, best, bad, active, first_below,
                                                                     last_loss, epoch)
        return lr, best, bad, active, failed, first_below, last_loss

    def minibatch_last(flat, exp_avg, exp_avg_sq, step_count, lr, best, bad, active, failed, first_below, last_loss,
                       epoch, xb, yb, x, y):
        """The epoch's last step (on its possibly partial batch), then :func:`minibatch_end`: one
        compiled call instead of two (every call costs 60-200 us of wrapper overhead)."""
        flat, exp_avg, exp_avg_sq, step_count, active, failed = minibatch_update(
            flat, exp_avg, exp_avg_sq, step_count, lr, active, failed, xb, yb)
        lr, best, bad, active, failed, first_below, last_loss = minibatch_end(
            flat, lr, best, bad, active, failed, first_below, last_loss, epoch, x, y)
        return flat, exp_avg, exp_avg_sq, step_count, lr, best, bad, active, failed, first_below, last_loss

    if compile_name is not None:  # two graphs per epoch (the full steps; the last step and the end), not one:
        # an epoch unrolled into a single graph compiled 5-10x slower (3 minutes for deep k=16 at
        # batch size 16, measured) and ran only 1.03-1.6x faster
        full_batch_step = compile_pure(full_batch_step, f"epoch_{compile_name}")
        minibatch_last = compile_pure(minibatch_last, f"epoch_{compile_name}_last")
        minibatch_update = compile_pure(minibatch_update, f"epoch_{compile_name}_update")

    def minibatch_step(flat, exp_avg, exp_avg_sq, step_count, lr, best, bad, active, failed, first_below, last_loss,
                       epoch, x, y, order):
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
            flat, exp_avg, exp_avg_sq, step_count, active, failed = minibatch_update(
                flat, exp_avg, exp_avg_sq, step_count, lr, active, failed, xf[i], yf[i])
        return minibatch_last(flat, exp_avg, exp_avg_sq, step_count, lr, best, bad, active, failed, first_below,
                              last_loss, epoch, xs[:, last:].contiguous(), ys[:, last:].contiguous(), x, y)

    return full_batch_step if bs is None else minibatch_step


@contextlib.contextmanager
def _flushing_denormals(enabled: bool):
    """Flush subnormal floats to zero inside the block (``torch.set_flush_denormal``), then
    restore PyTorch's default (off; PyTorch offers no way to read the current setting)."""
    if not enabled or not torch.set_flush_denormal(True):  # False: this CPU cannot
        yield
        return
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@contextlib.contextmanager
def _intra_op_threads(threads: int | None):
    """``torch.set_num_threads(threads)`` inside the block (nothing when None), then restore."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class TrainConfig:
    """Optimisation settings of Appendix H.2."""

    epochs: int = 50_000
    lr: float = 0.005  # initial Adam learning rate
    patience: int = 200  # ReduceLROnPlateau
    factor: float = 0.5
    min_lr: float = 1e-5
    plateau_threshold: float = 1e-4  # torch's default relative threshold
    success_threshold: float = 1e-3  # Experiment 2: training MSE target
    eval_epochs: tuple[int, ...] = (5_000,)  # also record the test MSE after these epochs
    stop_below: float | None = None  # stop a model once its training MSE is below this
    checkpoint_every: int = 5_000
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    compile: bool = False  # compile each epoch with TorchInductor (needs a C++ compiler)
    # Flush subnormal floats (below 1.2e-38 in float32) to zero while training. As the losses
    # and Adam's second moments shrink they appear in the gradients, and on x86 CPUs every
    # operation on them is slow: without this a compiled deep k=1 group went from 0.35 to
    # 0.68 ms per epoch within 8,000 epochs (measured); with it, 0.32 throughout.
    flush_denormal: bool = True
    # Adam steps per epoch: None = one full-batch step (the reading of the paper's "epoch" this
    # library used first); an integer b = one pass over each model's own shuffle of the training
    # set in ceil(n / b) minibatches, the last one partial (see _make_step). A b larger than the
    # training set is refused when training starts.
    batch_size: int | None = None
    # intra-op threads while training (torch.set_num_threads, restored afterwards); None leaves
    # the process's setting. Training is chaotic: GEMM kernels split their sums differently with
    # more threads, and after thousands of Adam steps two thread counts can end in different
    # minima. A fixed count makes a group's result the same in any process that trains it.
    threads: int | None = None

    def __post_init__(self):
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise DLoRError(f"threads must be a positive integer, or None to keep the process's setting; "
                            f"got {self.threads!r}")
        b = self.batch_size
        if b is not None and (isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1):
            raise DLoRError(f"batch_size must be a positive integer, or None for full batch; got {b!r}")
        if self.batch_size is not None:
            self.batch_size = int(b)


@dataclass
class GroupSpec:
    """One architecture at one ``k`` (or one dense width), over several seeds."""

    arch: str  # "deep" | "wide" | "dense"
    k: int | None
    widths: list[int] | None
    seeds: list[int]
    tag: str = ""
    extra: dict = field(default_factory=dict)  # added to every model's result row
    # per model (one entry per seed), None for all defaults: the initialisation (a dlor.nn.INITS
    # name; deep and wide only) and fields added to that model's result row only
    inits: list[str] | None = None
    member_extra: list[dict] | None = None
    activation: str = "softplus"  # rho of every layer, a dlor.nn.ACTIVATIONS name (Appendix H.2: softplus)

    def __post_init__(self):
        for name in ("inits", "member_extra"):
            value = getattr(self, name)
            if value is not None and len(value) != len(self.seeds):
                raise DLoRError(f"GroupSpec.{name} needs one entry per seed ({len(self.seeds)}), got {len(value)}")

    @property
    def name(self) -> str:
        base = f"{self.arch}_k{self.k}" if self.k is not None else f"{self.arch}_w{self.widths[1]}"
        return base + (f"_{self.tag}" if self.tag else "")


class GroupTrainer:
    """Train ``len(spec.seeds)`` models of one architecture together.

    ``run`` can be interrupted and resumed from the last checkpoint (``checkpoint`` path).
    """

    def __init__(self, spec: GroupSpec, cfg: TrainConfig, dtype=torch.float64, checkpoint: Path | None = None,
                 device: torch.device | str | None = None):
        self.spec, self.cfg, self.dtype, self.checkpoint = spec, cfg, dtype, checkpoint
        # every state tensor lives here; the data is moved here in run(). The models are
        # initialised on the CPU (the same draws on every device), then moved.
        self.device = check_device("cpu" if device is None else device)  # DLoRError: cuda where there is none
        modules = []
        for i, seed in enumerate(spec.seeds):
            torch.manual_seed(seed)
            init = spec.inits[i] if spec.inits is not None else None
            modules.append(make_module(spec.arch, spec.k, spec.widths, init=init, activation=spec.activation).to(dtype))
        self.template = modules[0]
        P = stack_modules(modules)
        self.names = list(P)
        self.shapes = [P[n].shape[1:] for n in self.names]
        self.sizes = [math.prod(s) for s in self.shapes]
        self.flat = torch.cat([P[n].reshape(len(modules), -1) for n in self.names], dim=1).to(self.device)
        self.n_params = self.flat.shape[1]
        B = len(modules)
        self.exp_avg = torch.zeros_like(self.flat, requires_grad=False)
        self.exp_avg_sq = torch.zeros_like(self.exp_avg)
        self.step_count = torch.zeros(B, dtype=dtype, device=self.device)
        self.lr = torch.full((B,), cfg.lr, dtype=dtype, device=self.device)
        self.best = torch.full((B,), math.inf, dtype=dtype, device=self.device)
        self.bad = torch.zeros(B, dtype=torch.long, device=self.device)
        self.active = torch.ones(B, dtype=torch.bool, device=self.device)
        self.failed = torch.zeros(B, dtype=torch.bool, device=self.device)
        self.first_below = torch.full((B,), -1, dtype=torch.long, device=self.device)
        self.last_loss = torch.full((B,), math.nan, dtype=dtype, device=self.device)
        self.test_at: dict[int, Tensor] = {}
        self.epoch = 0
        self._orders: Tensor | None = None  # (B, 64, n): the shuffles of the current chunk of epochs
        self._orders_chunk = -1
        self.n_layers = len(spec.widths) - 1 if spec.widths else None
        layout = (spec.arch, spec.k, self.n_layers, self.names, self.shapes, self.sizes, cfg)
        self._step = _make_step(*layout, functional=False, activation=spec.activation)
        self._step_compiled = (_make_step(*layout, functional=True, compile_name=spec.name, activation=spec.activation)
                               if cfg.compile else None)

    # ------------------------------------------------------------------ parameters
    def params(self, flat: Tensor | None = None) -> dict[str, Tensor]:
        return _unflatten(self.flat if flat is None else flat, self.names, self.shapes, self.sizes)

    def forward(self, x: Tensor, flat: Tensor | None = None) -> Tensor:
        return batched_forward(self.spec.arch, self.params(flat), x, k=self.spec.k, n_layers=self.n_layers,
                               activation=self.spec.activation)

    def mse(self, x: Tensor, y: Tensor) -> Tensor:
        with torch.no_grad():
            return ((self.forward(x) - y) ** 2).mean(dim=(1, 2))

    # ------------------------------------------------------------------ one epoch
    def _order(self, n: int) -> Tensor:
        """Each model's order of its ``n`` training points in epoch ``self.epoch``: ``(B, n)``."""
        chunk = (self.epoch - 1) // _ORDER_CHUNK
        if chunk != self._orders_chunk or self._orders is None or self._orders.shape[-1] != n:
            self._orders = torch.stack([_chunk_orders(seed, n, chunk) for seed in self.spec.seeds]).to(self.device)
            self._orders_chunk = chunk
        return self._orders[:, (self.epoch - 1) % _ORDER_CHUNK].contiguous()

    def _epoch(self, x: Tensor, y: Tensor) -> None:
        self.epoch += 1
        state = tuple(getattr(self, n).detach() for n in _STATE)
        epoch = torch.tensor(self.epoch, dtype=torch.long, device=self.device)
        order = self._order(x.shape[-2]) if self.cfg.batch_size is not None else None
        with torch.no_grad():
            out = self._run_step(state, epoch, x, y, order)
        for n, value in zip(_STATE, out, strict=True):
            setattr(self, n, value)

    def _run_step(self, state, epoch, x, y, order):
        if self._step_compiled is not None:
            try:
                return self._step_compiled(*state, epoch, x, y, order)
            except Exception as err:  # no C++ compiler, unsupported platform, ...
                warnings.warn(f"compiling the epoch failed ({type(err).__name__}: {err}); training {self.spec.name} "
                              f"eagerly instead (same arithmetic, slower)", RuntimeWarning, stacklevel=3)
                self._step_compiled = None
        return self._step(*state, epoch, x, y, order)

    def run(self, x: Tensor, y: Tensor, x_test: Tensor, y_test: Tensor, epochs: int | None = None, on_epoch=None) -> list[dict]:
        """Train to ``epochs`` (default ``cfg.epochs``) and return one result dict per model.

        ``x`` ``(n, d)`` and ``y`` ``(n, out)`` are one training set for every model, or ``(B, n, d)``
        and ``(B, n, out)`` one per model (likewise the test set).
        """
        total = self.cfg.epochs if epochs is None else epochs
        x, y, x_test, y_test = (t.to(device=self.device, dtype=self.dtype) for t in (x, y, x_test, y_test))
        B = len(self.spec.seeds)
        for name, t in (("x", x), ("y", y), ("x_test", x_test), ("y_test", y_test)):
            if t.dim() not in (2, 3) or (t.dim() == 3 and t.shape[0] != B):
                raise DLoRError(f"{name} must be (n, features) or ({B}, n, features) for this group of {B} models, "
                                f"got shape {tuple(t.shape)}")
        n = x.shape[-2]
        if self.cfg.batch_size is not None and self.cfg.batch_size > n:
            raise DLoRError(f"batch_size {self.cfg.batch_size} is larger than the training set ({n} points); "
                            f"use batch_size <= {n}, or None for full-batch epochs")
        self._maybe_resume()
        with _flushing_denormals(self.cfg.flush_denormal), _intra_op_threads(self.cfg.threads):
            self._train_until(total, x, y, x_test, y_test, on_epoch)
        if on_epoch is not None and self.epoch < total:
            on_epoch(total - self.epoch)  # every model stopped early
        return self.results(x, y, x_test, y_test)

    def _train_until(self, total: int, x, y, x_test, y_test, on_epoch) -> None:
        while self.epoch < total and bool(self.active.any()):
            self._epoch(x, y)
            if self.epoch in self.cfg.eval_epochs:
                self.test_at[self.epoch] = self.mse(x_test, y_test)
            if self.checkpoint is not None and self.epoch % self.cfg.checkpoint_every == 0:
                self._save()
            if on_epoch is not None:
                on_epoch(1)

    def results(self, x, y, x_test, y_test) -> list[dict]:
        test_final = self.mse(x_test, y_test)
        train_final = self.mse(x, y)
        rows = []
        steps_per_epoch = 1 if self.cfg.batch_size is None else math.ceil(x.shape[-2] / self.cfg.batch_size)
        for i, seed in enumerate(self.spec.seeds):
            steps = int(self.step_count[i])
            row = {"arch": self.spec.arch, "k": self.spec.k,
                   "width": self.spec.widths[1] if self.spec.widths else 16, "seed": seed,
                   "params": self.n_params, "epochs_trained": math.ceil(steps / steps_per_epoch),
                   "adam_steps": steps,
                   "train_mse_final": float(train_final[i]), "test_mse_final": float(test_final[i]),
                   "first_epoch_below_threshold": int(self.first_below[i]), "failed": bool(self.failed[i])}
            for e, t in self.test_at.items():
                row[f"test_mse_at_{e}"] = float(t[i])
            row |= self.spec.extra
            if self.spec.member_extra is not None:
                row |= self.spec.member_extra[i]
            if self.spec.inits is not None and self.spec.arch != "dense":
                row["init"] = self.spec.inits[i]
            row["batch_size"] = self.cfg.batch_size if self.cfg.batch_size is not None else "full"
            row["activation"] = self.spec.activation
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ checkpoints
    def _state(self) -> dict:
        return {n: getattr(self, n).detach() for n in _STATE} | {"epoch": self.epoch, "test_at": self.test_at,
                                                                  "cfg": asdict(self.cfg)}

    def _save(self) -> None:
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_beside(self.checkpoint)
        torch.save(self._state(), tmp)
        os.replace(tmp, self.checkpoint)

    def _checkpoint_problem(self, state) -> str | None:
        """Why ``state`` cannot resume this group (None: it can)."""
        if not isinstance(state, dict) or not set(_STATE) | {"epoch", "test_at"} <= state.keys():
            return "not a checkpoint of this trainer"
        if state["flat"].shape != self.flat.shape:
            return f"parameters of shape {tuple(state['flat'].shape)}, this group has {tuple(self.flat.shape)}"
        return None

    def _maybe_resume(self) -> None:
        if self.checkpoint is None or not self.checkpoint.exists() or self.epoch:
            return
        try:
            state = torch.load(self.checkpoint, weights_only=False, map_location=self.flat.device)
        except Exception as err:  # torn (EOFError, RuntimeError from the zip reader, ...)
            set_aside(self.checkpoint, f"{type(err).__name__}: {str(err)[:80]}")
            return
        problem = self._checkpoint_problem(state)
        if problem is not None:
            set_aside(self.checkpoint, problem)
            return
        self.flat = state.pop("flat").clone()
        self.epoch = state.pop("epoch")
        self.test_at = state.pop("test_at")
        state.pop("cfg")
        for k, v in state.items():
            setattr(self, k, v)
