"""Activation checks for the compiler: Assumption 1, default expansion points, Taylor data."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from .._errors import DLoRError

ELEMENTWISE = (nn.Softplus, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.ELU, nn.ReLU, nn.LeakyReLU)

# Default expansion points (Assumption 1 needs rho'(c) != 0):
#  * tanh, sigmoid: c = 0, an inflection point (rho''(0) = 0), so the first-order scheme is
#    second-order accurate; tanh(0) = 0 also removes the offset rho(c) that rounding acts on.
#  * softplus: c = 0.5, the paper's choice (Appendix H.1).
#  * ReLU, LeakyReLU, ELU: c = 1, inside the linear region, where the construction is exact.
#  * GELU, SiLU: c = 1 (rho' ~ 1.08 and 0.93, well away from zero).
#  * any other elementwise module the user declares: c = 0.5.
DEFAULT_C = {
    nn.Tanh: 0.0,
    nn.Sigmoid: 0.0,
    nn.Softplus: 0.5,
    nn.ReLU: 1.0,
    nn.LeakyReLU: 1.0,
    nn.ELU: 1.0,
    nn.GELU: 1.0,
    nn.SiLU: 1.0,
}


class AssumptionError(DLoRError):
    """The activation or the expansion point violates Assumption 1."""


@dataclass
class Taylor:
    """``rho(c)``, ``rho'(c)``, ``rho''(c)`` in float64, and the module that applies ``rho``."""

    module: nn.Module
    c: float
    value: float
    slope: float
    curvature: float

    def fresh(self) -> nn.Module:
        return copy.deepcopy(self.module)


def taylor(act: nn.Module, c: float | None) -> Taylor:
    """Check Assumption 1 for ``act`` at ``c`` (default per activation) and return its Taylor data."""
    if c is None:
        c = DEFAULT_C.get(type(act), 0.5)
    probe = torch.linspace(-4.0, 4.0, 161, dtype=torch.float64)
    with torch.no_grad():
        vals = act(probe)
    second = vals[2:] - 2 * vals[1:-1] + vals[:-2]
    if not torch.isfinite(vals).all():
        raise AssumptionError(f"activation {act} returned non-finite values on [-4, 4]")
    if second.abs().max() <= 1e-12 * (vals.abs().max() + 1):
        raise AssumptionError(
            f"activation {act} is affine on [-4, 4]; Assumption 1 needs a non-affine activation "
            f"(an affine network cannot approximate anything but affine maps)"
        )
    with torch.enable_grad():  # the compiler may be called under no_grad
        x = torch.tensor(float(c), dtype=torch.float64, requires_grad=True)
        y = act(x)
        (d1,) = torch.autograd.grad(y, x, create_graph=True)
        d2 = torch.autograd.grad(d1, x, allow_unused=True)[0] if d1.requires_grad else None
    slope = float(d1.detach())
    if not abs(slope) > 1e-8:
        raise AssumptionError(
            f"rho'(c) = {slope:.3g} at c = {c} for {act}: Assumption 1 needs rho'(c) != 0. "
            f"Choose another expansion point c (for ReLU-type activations, c > 0, in the linear region)"
        )
    return Taylor(act, float(c), float(y.detach()), slope, float(d2.detach()) if d2 is not None else 0.0)
