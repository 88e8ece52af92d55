r"""``SparseLowRankLinear``: a linear layer whose weight is ``S + U V^T``, ``S`` sparse on a fixed support.

The sparse-plus-low-rank parametrisation of SLTrain (Han et al., "SLTrain: a sparse plus low-rank
approach for parameter and memory efficient pretraining", NeurIPS 2024): the support of ``S`` is
drawn uniformly at random once, at construction, and stays fixed; only its values and the
factors train. It is the pretraining baseline (Appendix G, SLTrain) beside DLoR's ``alpha I + U V^T``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch import Tensor, nn

from .._errors import DLoRError, check_rank

__all__ = ["SparseLowRankLinear", "check_density", "PRODUCTS"]

# how the layer applies S + U V^T (see SparseLowRankLinear)
PRODUCTS = ("sparse", "dense")

# torch warns once per process that its CSR tensors are "beta". The one operation used here (CSR
# times dense, with autograd to the values) is covered by the tests against the dense reference,
# so that warning is spent here, silenced, without touching the caller's warning filters.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    torch.sparse_csr_tensor(
        torch.zeros(2, dtype=torch.int64), torch.zeros(0, dtype=torch.int64), torch.zeros(0), (1, 1), check_invariants=False
    )


def check_density(density: object) -> float:
    """``density`` as a float in (0, 1), or [`DLoRError`][dlor.DLoRError]."""
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0 < density < 1:
        raise DLoRError(f"the density of the sparse part must lie in (0, 1), got {density!r}")
    return float(density)


class SparseLowRankLinear(nn.Module):
    r"""``y = x S^T + (x V) U^T + b``, the layer ``x -> (S + U V^T) x + b``.

    ``S`` is ``(m, n)`` with ``nnz = max(1, round(density * m * n))`` entries on a support
    drawn uniformly without replacement from a generator seeded by ``support_seed`` (SLTrain's
    random support, fixed for the whole training). ``S`` is held in compressed-row form.

    ``product`` says how a forward pass applies it:

    * ``"sparse"`` (the default): ``S`` as a sparse-dense product beside the two factor products;
      the ``m x n`` weight is never formed. Cost ``O(B (nnz + r (m + n)))``.
    * ``"dense"``: ``W = S + U V^T`` is formed once per call (``O(m n r)``, independent of the
      batch) and applied as one dense product, ``O(B m n)``. It is the same function (equal up to
      float rounding) and the same parameters; it trades the structure's FLOPs for one dense
      kernel, which is faster on a CPU at small widths (a byte-level GPT step at width 128 takes
      1.28x to 1.64x low-rank's time on one thread this way, depending on the host, against 2.1x
      to 2.4x with the sparse product; see ``benchmarks/bench_lm.py --sltrain``). Choose it only where ``m n`` is small.

    Args:
        in_features: ``n``.
        out_features: ``m``.
        rank: ``r >= 1``.
        density: fraction of the entries of ``S`` that are trainable, in (0, 1).
        bias: learn an additive bias of shape ``(m,)``.
        support_seed: seed of the support of ``S``.
        product: ``"sparse"`` or ``"dense"``, how the forward pass applies the weight (above).

    Shapes:
        input ``(..., n)``, output ``(..., m)``.

    Learned tensors:
        ``values``: ``(nnz,)``; ``U``: ``(m, r)``; ``V``: ``(n, r)``; ``bias``: ``(m,)``.
        Buffers ``crow`` (``(m + 1,)``) and ``col`` (``(nnz,)``): the support, in CSR order.

    Initialisation: ``V ~ N(0, 1/n)``, ``U ~ N(0, 1/(6 r))`` and the values of ``S`` ``~ N(0, 1/(6
    density n))``, so that the low-rank and the sparse parts each give every output coordinate
    half of the variance ``E[x_i^2] / 3`` that ``nn.Linear``'s default gives ``W x``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rank: int,
        density: float,
        bias: bool = True,
        *,
        support_seed: int = 0,
        product: str = "sparse",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DLoRError(f"{name} must be a positive integer, got {value!r}")
        self.in_features, self.out_features = in_features, out_features
        self.rank = check_rank(rank)
        self.density = check_density(density)
        if product not in PRODUCTS:
            raise DLoRError(f"unknown product {product!r} of a sparse plus low-rank layer; choose one of {', '.join(PRODUCTS)}")
        self.product = product
        m, n = out_features, in_features
        nnz = max(1, round(self.density * m * n))
        gen = torch.Generator().manual_seed(int(support_seed))
        flat = torch.randperm(m * n, generator=gen)[:nnz].sort().values  # row-major order = CSR order
        rows, cols = flat // n, flat % n
        crow = torch.zeros(m + 1, dtype=torch.int64)
        crow[1:] = torch.bincount(rows, minlength=m).cumsum(0)
        self.register_buffer("crow", crow.to(device))
        self.register_buffer("col", cols.to(device))
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.values = nn.Parameter(torch.empty(nnz, **factory))
        self.U = nn.Parameter(torch.empty(m, rank, **factory))
        self.V = nn.Parameter(torch.empty(n, rank, **factory))
        self.bias = nn.Parameter(torch.empty(m, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the parameters with the documented initialisation (see class docstring)."""
        n = self.in_features
        with torch.no_grad():
            nn.init.normal_(self.V, std=1.0 / math.sqrt(n))
            nn.init.normal_(self.U, std=1.0 / math.sqrt(6.0 * self.rank))
            nn.init.normal_(self.values, std=1.0 / math.sqrt(6.0 * self.density * n))
            if self.bias is not None:
                bound = 1.0 / math.sqrt(n)
                nn.init.uniform_(self.bias, -bound, bound)

    @property
    def sparse(self) -> Tensor:
        """``S`` as a sparse CSR tensor ``(m, n)`` sharing (and differentiable in) ``values``."""
        return self._csr(self.values)

    def _csr(self, values: Tensor) -> Tensor:
        # the support is valid by construction: skip the per-call invariant checks (explicitly, so torch does not warn)
        crow, col = self.get_buffer("crow"), self.get_buffer("col")
        return torch.sparse_csr_tensor(crow, col, values, (self.out_features, self.in_features), check_invariants=False)

    def _sparse_product(self, x2: Tensor) -> Tensor:
        """``x2 S^T``, ``(B, m)``, outside autocast. With 16-bit parameters on the CPU it runs in
        float32 and returns float32: torch's CPU sparse CSR product (MKL) has no 16-bit kernels."""
        values: Tensor = self.values
        if values.device.type == "cpu" and values.dtype in (torch.float16, torch.bfloat16):
            values = values.float()
        with torch.autocast(x2.device.type, enabled=False):
            return (self._csr(values) @ x2.to(values.dtype).T).T

    def _dense_weight(self, dtype: torch.dtype) -> Tensor:
        """``S + U V^T`` as a dense ``(m, n)`` tensor, differentiable in the values and the factors."""
        values, U, V = self.values.to(dtype), self.U.to(dtype), self.V.to(dtype)
        crow = self.get_buffer("crow")
        rows = torch.repeat_interleave(torch.arange(self.out_features, device=crow.device), crow.diff())
        dense = torch.zeros(self.out_features, self.in_features, dtype=dtype, device=values.device)
        return torch.addmm(dense.index_put((rows, self.get_buffer("col")), values), U, V.T)

    def forward(self, x: Tensor) -> Tensor:
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1])  # (B, n)
        if self.product == "dense":
            dtype = torch.get_autocast_dtype(x2.device.type) if torch.is_autocast_enabled(x2.device.type) else x2.dtype
            y = torch.nn.functional.linear(x2.to(dtype), self._dense_weight(dtype), self.bias)
            return y.reshape(*lead, self.out_features)
        y = self._sparse_product(x2)  # (B, m)
        if not torch.is_autocast_enabled(x2.device.type):
            y = y.to(x2.dtype)  # back from float32 with 16-bit parameters on the CPU
        if self.bias is not None:
            y = y + self.bias
        # under autocast this matmul runs in the autocast dtype, which becomes the output's, as in nn.Linear
        y = torch.addmm(y, x2 @ self.V, self.U.T)
        return y.reshape(*lead, self.out_features)

    @property
    def weight(self) -> Tensor:
        """A dense ``(out_features, in_features)`` copy of ``S + U V^T`` (for tests and inspection; not a parameter)."""
        return self.sparse.to_dense() + self.U @ self.V.T

    @property
    def num_params(self) -> int:
        """``nnz + r (m + n)`` (+ ``m`` with a bias)."""
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, "
            f"nnz={self.values.numel()} (density {self.density:.4g}), bias={self.bias is not None}, product={self.product}"
        )
