r"""Affine drift (Theorem 3 and Appendix G): fine-tuning the wide form of a pretrained projection.

The MLP ``up`` projection ``W`` (``m x n``, no bias) of the source model's first block is split
into ``L`` DLoR components ``W = sum_l M_l`` ([`additive_decompose`][dlor.additive_decompose])
and compiled into Theorem 3's wide form

``A(x) = sum_l beta_l / (h rho'(c)) * rho((h / beta_l) M_l x + c_l) + b``,  ``c_l = c 1``,

with ``rho`` = GELU, ``c = 0.5`` and ``h`` small. Two readings:

* ``zero_sum``: ``beta_l = 1`` for ``l < L`` and ``beta_L = -(L - 1)`` (Appendix H.1), ``b = 0``;
* ``offset``: ``beta_l = 1`` for all ``l`` (``sum beta = L``) and the zero-order offset folded into
  the bias when compiling, ``b = -rho(c) sum_l beta_l / (h rho'(c))``.

Then only the components (``alpha_l, U_l, V_l``) are fine-tuned on the target, biases frozen,
with ``beta`` frozen or trainable; a control trains the biases too.

**What the math predicts.** Taylor-expanding ``rho`` at ``c``,

``A(x) = Z + sum_l M_l x + (h rho''(c) / (2 rho'(c))) sum_l (M_l x)^2 / beta_l + O(h^2)``,
``Z = rho(c) sum_l beta_l / (h rho'(c)) + b``.

* ``Z`` depends on ``beta`` and ``b`` only, never on the components. Both readings compile to
  ``Z = 0`` (``sum beta = 0``, or the offset folded into ``b``), so with ``beta`` frozen
  fine-tuning the components leaves ``Z = 0`` in both: neither reading has a zero-order drift,
  and what remains, in both, is the second-order term, ``O(h)``, which grows with the components.
  The prediction is that ``sum beta = 0`` drifts no less than the folded offset.
* With ``beta`` trainable, ``Z`` moves by ``rho(c) Delta(sum beta) / (h rho'(c))``, amplified by
  ``1 / h``, in both readings: ``sum beta = 0`` at the start does not keep it there.
* In floating point the folded offset (about ``rho(c) L / (h rho'(c))``) cancels with a rounding
  error of about ``eps`` times its size, too small to matter at the ``h`` used here.

**Measured.** The affine drift of a layer is ``||mean_x [A(x) - sum_l M_l x]||_rms``, the mean
offset of its output from the dense layer with the same current weights, on a held-out batch of
the layer's inputs, before and after fine-tuning; and the target test loss against the same
fine-tuning with trainable biases.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...decompose import additive_decompose
from ...lm.data import sample_batch
from ...nn import DLoRLinear
from .methods import Schedule, finetune, loss_on

READINGS = ("zero_sum", "offset")
EXPANSION_POINT = 0.5  # c: GELU(c) = 0.346 != 0, so the zero-order term is not trivially zero


def gelu_slope(c: float) -> float:
    """``GELU'(c) = Phi(c) + c phi(c)``."""
    return 0.5 * (1 + math.erf(c / math.sqrt(2))) + c * math.exp(-c * c / 2) / math.sqrt(2 * math.pi)


def betas(reading: str, L: int) -> list[float]:
    return [1.0] * L if reading == "offset" or L == 1 else [1.0] * (L - 1) + [-(L - 1.0)]


class WideProjection(nn.Module):
    """Theorem 3's wide form of a weight ``W = sum_l M_l`` (see the module docstring)."""

    def __init__(self, W: Tensor, rank: int, h: float, reading: str, train_beta: bool, train_bias: bool):
        super().__init__()
        m, n = W.shape
        self.h, self.c = h, EXPANSION_POINT
        self.slope, self.rho_c = gelu_slope(self.c), float(F.gelu(torch.tensor(self.c)))
        parts = additive_decompose(W.detach().double(), rank)
        self.parts = nn.ModuleList()
        for M in parts:
            self.parts.append(DLoRLinear.from_dlor(M, dtype=W.dtype))
        b = betas(reading, len(parts))
        self.beta = nn.Parameter(torch.tensor(b, dtype=W.dtype), requires_grad=train_beta)
        self.inner = nn.Parameter(torch.full((len(parts), m), self.c, dtype=W.dtype), requires_grad=train_bias)
        fold = 0.0 if reading == "zero_sum" else -self.rho_c * sum(b) / (h * self.slope)
        self.bias = nn.Parameter(torch.full((m,), fold, dtype=W.dtype), requires_grad=train_bias)

    def linear(self, x: Tensor) -> Tensor:
        """``sum_l M_l x``: the dense layer with the current weights."""
        return sum((p(x) for p in self.parts), torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.bias
        for l, part in enumerate(self.parts):
            beta = self.beta[l]
            out = out + beta / (self.h * self.slope) * F.gelu(self.h / beta * part(x) + self.inner[l])
        return out


@dataclass(frozen=True)
class DriftResult:
    reading: str
    train_beta: bool
    train_bias: bool
    seed: int
    compile_error: float  # max |A(x) - W x| on the held-out inputs, right after compiling
    drift_before: float
    drift_after: float
    output_shift: float  # ||mean A_after(x) - mean A_before(x)||_rms: the whole change, learning included
    sum_beta_change: float
    test_loss: float


def _layer_inputs(model: nn.Module, data: Tensor, sched: Schedule) -> Tensor:
    """The inputs of block 0's MLP ``up`` on a held-out batch of ``data``: ``(N, n)``."""
    seen: list[Tensor] = []
    up = model.get_submodule("blocks.0.mlp.up")
    hook = up.register_forward_hook(lambda mod, args, out: seen.append(args[0].detach().reshape(-1, args[0].shape[-1])))
    x, _ = sample_batch(data, sched.batch_size, sched.block, torch.Generator().manual_seed(3 * 10**9))
    with torch.no_grad():
        model(x)
    hook.remove()
    return seen[0]


def _drift(wide: WideProjection, X: Tensor) -> float:
    with torch.no_grad():
        offset = (wide(X) - wide.linear(X)).mean(0)
    return float(offset.pow(2).mean().sqrt())


def drift_run(
    source: nn.Module,
    train: Tensor,
    test: Tensor,
    sched: Schedule,
    *,
    rank: int,
    h: float,
    lr: float,
    reading: str,
    train_beta: bool,
    train_bias: bool,
    seed: int,
) -> DriftResult:
    """Compile block 0's ``up`` into the wide form, fine-tune it on ``train`` and measure."""
    model = copy.deepcopy(source)
    for p in model.parameters():
        p.requires_grad_(False)
    up = model.get_submodule("blocks.0.mlp.up")
    assert isinstance(up, nn.Linear)  # the source model is dense
    W = up.weight
    X = _layer_inputs(model, test, sched)
    dense_out = X @ W.T
    torch.manual_seed(seed)
    wide = WideProjection(W, rank, h, reading, train_beta, train_bias)
    model.get_submodule("blocks.0.mlp").up = wide
    with torch.no_grad():
        compile_error = float((wide(X) - dense_out).abs().max())
        before = wide(X).mean(0)
    beta_before = float(wide.beta.detach().sum())
    drift_before = _drift(wide, X)
    finetune(model, train, sched, lr, seed)
    with torch.no_grad():
        shift = float((wide(X).mean(0) - before).pow(2).mean().sqrt())
    return DriftResult(
        reading,
        train_beta,
        train_bias,
        seed,
        compile_error,
        drift_before,
        _drift(wide, X),
        shift,
        float(wide.beta.detach().sum()) - beta_before,
        loss_on(model, test, sched, offset=10**6),
    )
