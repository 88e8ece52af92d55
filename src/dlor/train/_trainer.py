r"""A vectorized trainer: many independent models of one architecture as one batched computation.

Each model has its own Adam state (``torch.optim.Adam`` defaults: betas (0.9, 0.999), eps 1e-8)
and its own ``ReduceLROnPlateau`` (mode min, relative threshold 1e-4, no cooldown) stepped on its
own training loss, exactly as when each model is trained alone; the tests compare the two.
Parameters of all ``B`` models live in one flat ``(B, D)`` tensor, so an optimiser step is a
handful of tensor operations whatever ``B`` is.

An epoch is full batch (``TrainConfig(batch_size=None)``: one Adam step on the whole training
set) or a pass over shuffled minibatches (``batch_size=b``: ``ceil(n / b)`` Adam steps; each model
draws its own order every epoch from its seed, see [`epoch_orders`][dlor.train.epoch_orders]). One epoch (forward,
gradients, Adam, plateau schedule, bookkeeping) is a pure function of a
[`TrainState`][dlor.train.TrainState] (``make_epoch``). With
``TrainConfig(compile=True)`` its pieces are compiled by TorchInductor
(``compile_pure``: one fused kernel per minibatch step, called without
Dynamo; 3-5x faster per epoch on CPU after a compile of 10-60 s, measured), otherwise they run
eagerly; both compute the same arithmetic.
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._device import check_device
from .._errors import DLoRError
from .._files import replace_atomically, set_aside
from ._batched import batched_forward, make_module, stack_modules
from ._config import TrainConfig
from ._state import TrainState, init_state, make_epoch, unflatten

__all__ = ["TrainConfig", "GroupTrainer", "GroupSpec", "epoch_orders"]

CHECKPOINT_FORMAT = "dlor.train.GroupTrainer/1"  # the metadata of a safetensors checkpoint of this trainer

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
    # per model: its learning rate (None: every model at TrainConfig.lr). R rates x S seeds of one
    # architecture are one group of R * S models, each as if trained alone at its rate
    lrs: list[float] | None = None
    activation: str = "softplus"  # rho of every layer, a dlor.nn.ACTIVATIONS name (Appendix H.2: softplus)

    def __post_init__(self):
        for name in ("inits", "member_extra", "lrs"):
            value = getattr(self, name)
            if value is not None and len(value) != len(self.seeds):
                raise DLoRError(f"GroupSpec.{name} needs one entry per seed ({len(self.seeds)}), got {len(value)}")

    @property
    def name(self) -> str:
        base = f"{self.arch}_k{self.k}" if self.k is not None else f"{self.arch}_w{(self.widths or [0, 0])[1]}"
        return base + (f"_{self.tag}" if self.tag else "")


class GroupTrainer:
    """Train ``len(spec.seeds)`` models of one architecture together.

    ``run`` can be interrupted and resumed from the last checkpoint (``checkpoint`` path).
    """

    def __init__(
        self,
        spec: GroupSpec,
        cfg: TrainConfig,
        dtype=torch.float64,
        checkpoint: Path | None = None,
        device: torch.device | str | None = None,
    ):
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
        self.state = init_state(
            torch.cat([P[n].reshape(len(modules), -1) for n in self.names], dim=1).to(self.device),
            cfg.lr if spec.lrs is None else spec.lrs,
        )
        self.n_params = self.state.params.shape[1]
        self.test_at: dict[int, Tensor] = {}
        self.epoch = 0
        self._orders: Tensor | None = None  # (B, 64, n): the shuffles of the current chunk of epochs
        self._orders_chunk = -1
        self.n_layers = len(spec.widths) - 1 if spec.widths else None
        layout = (spec.arch, spec.k, self.n_layers, self.names, self.shapes, self.sizes, cfg)
        self._step = make_epoch(*layout, functional=False, activation=spec.activation)
        self._step_compiled = (
            make_epoch(*layout, functional=True, compile_name=spec.name, activation=spec.activation) if cfg.compile else None
        )

    # ------------------------------------------------------------------ parameters
    def params(self, flat: Tensor | None = None) -> dict[str, Tensor]:
        """``{name: (B, *shape)}``: every model's parameters (views into ``state.params``, or into ``flat``)."""
        return unflatten(self.state.params if flat is None else flat, self.names, self.shapes, self.sizes)

    def forward(self, x: Tensor, flat: Tensor | None = None) -> Tensor:
        return batched_forward(
            self.spec.arch, self.params(flat), x, k=self.spec.k, n_layers=self.n_layers, activation=self.spec.activation
        )

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
        epoch = torch.tensor(self.epoch, dtype=torch.long, device=self.device)
        order = self._order(x.shape[-2]) if self.cfg.batch_size is not None else None
        with torch.no_grad():
            self.state = self._run_step(self.state, epoch, x, y, order)

    def _run_step(self, state: TrainState, epoch, x, y, order) -> TrainState:
        if self._step_compiled is not None:
            try:
                return self._step_compiled(state, epoch, x, y, order)
            except Exception as err:  # no C++ compiler, unsupported platform, ...
                warnings.warn(
                    f"compiling the epoch failed ({type(err).__name__}: {err}); training {self.spec.name} "
                    f"eagerly instead (same arithmetic, slower)",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self._step_compiled = None
        return self._step(state, epoch, x, y, order)

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
                raise DLoRError(
                    f"{name} must be (n, features) or ({B}, n, features) for this group of {B} models, got shape {tuple(t.shape)}"
                )
        n = x.shape[-2]
        if self.cfg.batch_size is not None and self.cfg.batch_size > n:
            raise DLoRError(
                f"batch_size {self.cfg.batch_size} is larger than the training set ({n} points); "
                f"use batch_size <= {n}, or None for full-batch epochs"
            )
        self._maybe_resume()
        with _flushing_denormals(self.cfg.flush_denormal), _intra_op_threads(self.cfg.threads):
            self._train_until(total, x, y, x_test, y_test, on_epoch)
        if on_epoch is not None and self.epoch < total:
            on_epoch(total - self.epoch)  # every model stopped early
        return self.results(x, y, x_test, y_test)

    def _train_until(self, total: int, x, y, x_test, y_test, on_epoch) -> None:
        while self.epoch < total and bool(self.state.active.any()):
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
        st = self.state
        for i, seed in enumerate(self.spec.seeds):
            steps = int(st.step[i])
            row = {
                "arch": self.spec.arch,
                "k": self.spec.k,
                "width": self.spec.widths[1] if self.spec.widths else 16,
                "seed": seed,
                "params": self.n_params,
                "epochs_trained": math.ceil(steps / steps_per_epoch),
                "adam_steps": steps,
                "train_mse_final": float(train_final[i]),
                "test_mse_final": float(test_final[i]),
                "first_epoch_below_threshold": int(st.first_below[i]),
                "failed": bool(st.failed[i]),
            }
            for e, t in self.test_at.items():
                row[f"test_mse_at_{e}"] = float(t[i])
            row |= self.spec.extra
            if self.spec.member_extra is not None:
                row |= self.spec.member_extra[i]
            if self.spec.inits is not None and self.spec.arch != "dense":
                row["init"] = self.spec.inits[i]
            if self.spec.lrs is not None:
                row["lr"] = self.spec.lrs[i]
            row["batch_size"] = self.cfg.batch_size if self.cfg.batch_size is not None else "full"
            row["activation"] = self.spec.activation
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ checkpoints
    def _save(self) -> None:
        """The state as a safetensors file: one tensor per field (``state.<field>``) and per
        recorded test MSE (``test_at.<epoch>``), the epoch and the settings in its JSON metadata."""
        from safetensors.torch import save_file

        tensors = {f"state.{name}": t.detach().contiguous().cpu() for name, t in self.state._asdict().items()}
        tensors |= {f"test_at.{e}": t.detach().contiguous().cpu() for e, t in self.test_at.items()}
        meta = {
            "format": CHECKPOINT_FORMAT,
            "epoch": str(self.epoch),
            "group": self.spec.name,
            "config": json.dumps(asdict(self.cfg)),
        }
        path = self.checkpoint
        assert path is not None  # _save runs only for a trainer with a checkpoint
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))

    def _checkpoint_problem(self, meta: dict, tensors: dict[str, Tensor]) -> str | None:
        """Why a checkpoint cannot resume this group (None: it can)."""
        if meta.get("format") != CHECKPOINT_FORMAT:
            return f"not a checkpoint of this trainer (format {meta.get('format')!r})"
        missing = [f for f in TrainState._fields if f"state.{f}" not in tensors]
        if missing:
            return f"no tensor state.{missing[0]}"
        shape = tuple(tensors["state.params"].shape)
        if shape != tuple(self.state.params.shape):
            return f"parameters of shape {shape}, this group has {tuple(self.state.params.shape)}"
        return None

    def _maybe_resume(self) -> None:
        if self.checkpoint is None or not self.checkpoint.exists() or self.epoch:
            return
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(self.checkpoint), framework="pt") as f:
                meta = f.metadata() or {}
                tensors = {key: f.get_tensor(key) for key in f.keys()}
        except (SafetensorError, OSError, ValueError) as err:  # torn, or a pickle of an earlier version
            set_aside(
                self.checkpoint,
                f"not a safetensors checkpoint of this trainer, recomputed ({type(err).__name__}: {str(err)[:60]})",
            )
            return
        problem = self._checkpoint_problem(meta, tensors)
        if problem is not None:
            set_aside(self.checkpoint, problem)
            return
        self.state = TrainState(**{f: tensors[f"state.{f}"].to(self.device) for f in TrainState._fields})
        self.epoch = int(meta["epoch"])
        self.test_at = {int(key.split(".", 1)[1]): t.to(self.device) for key, t in tensors.items() if key.startswith("test_at.")}
