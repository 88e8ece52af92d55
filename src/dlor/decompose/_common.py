"""Shared pieces of the decompositions: input checks, NumPy round trips, certificates."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from .._errors import NonFiniteError, ShapeError, check_finite, check_floating
from .._matrix import DLoR

__all__ = ["Certificate", "as_matrix", "dense_product", "dense_sum", "to_torch"]


@dataclass
class Certificate:
    """How exact a decomposition is, measured after the fact.

    Attributes:
        reconstruction_error: ``||W - result||_F / ||W||_F`` in float64, where ``result``
            is the sum or product of the returned components.
        max_partial_condition: for products, the largest 2-norm condition number among
            the partial products ``P_k = M_k ... M_1``, ``k = 1..L``; ``None`` otherwise.
        perturbation: ``||W' - W||_F / ||W||_F`` when the input was moved to a nearby
            invertible ``W'`` (``perturb=eps``); ``0.0`` when it was not moved.
        method: the algorithm used.
        alpha: the diagonal coefficient(s) used.
        extras: method-specific numbers.
    """

    reconstruction_error: float
    max_partial_condition: float | None = None
    perturbation: float = 0.0
    method: str = ""
    alpha: float | list[float] | None = None
    extras: dict = field(default_factory=dict)


MatrixLike = Tensor | np.ndarray  # what the decompositions accept


def as_matrix(W: MatrixLike, name: str = "W") -> Tensor:
    """Validate a 2-D real floating, finite matrix (tensor or array) and return it as a tensor."""
    if isinstance(W, np.ndarray):
        W = torch.from_numpy(W)
    check_floating(name, W)
    if W.dim() != 2:
        raise ShapeError(f"{name} must be a 2-D matrix, got shape {tuple(W.shape)}")
    if W.numel() == 0:
        raise ShapeError(f"{name} is empty (shape {tuple(W.shape)})")
    if W.device.type == "cpu" and W.dtype in (torch.float32, torch.float64):  # NumPy's check is ~10x cheaper here
        if not np.isfinite(W.detach().numpy()).all():
            raise NonFiniteError(f"{name} contains NaN or Inf; decompositions need finite entries")
    else:
        check_finite(name, W)
    return W


def to_torch(a: np.ndarray, like: Tensor) -> Tensor:
    """A NumPy float64 result as a tensor with ``like``'s dtype and device."""
    out: Tensor = torch.from_numpy(np.ascontiguousarray(a)).to(dtype=like.dtype, device=like.device)
    return out


def dense_product(factors: list[DLoR]) -> Tensor:
    """``M_L ... M_1`` in float64 (``factors[0]`` applied first), by ``L`` structured products."""
    n = factors[0].shape[1]
    X = torch.eye(n, dtype=torch.float64, device=factors[0].device)
    for M in factors:
        X = M.to(torch.float64).matmul(X)
    return X


def dense_sum(components: list[DLoR]) -> Tensor:
    """``sum_l M_l`` in float64."""
    total = components[0].to(torch.float64).to_dense()
    for M in components[1:]:
        total = total + M.to(torch.float64).to_dense()
    return total


def relative_error(W: Tensor, approx: Tensor) -> float:
    W64 = W.detach().to(torch.float64)
    denom = float(torch.linalg.norm(W64))
    return float(torch.linalg.norm(W64 - approx)) / (denom if denom > 0 else 1.0)


def max_partial_condition(factors: list[DLoR]) -> float:
    """``max_k cond_2(M_k ... M_1)``, by one SVD per partial product (``O(L n^3)``)."""
    n = factors[0].shape[1]
    X = torch.eye(n, dtype=torch.float64, device=factors[0].device)
    worst = 1.0
    for M in factors:
        X = M.to(torch.float64).matmul(X)
        s = torch.linalg.svdvals(X)
        worst = max(worst, float(s[0] / s[-1]) if s[-1] > 0 else float("inf"))
    return worst
