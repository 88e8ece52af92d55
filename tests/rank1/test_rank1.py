"""Rank-1 networks: exact interpolation, affine collapse, orthogonal blindness (Section 3)."""

import numpy as np
import pytest
import torch
from torch import nn

import dlor
from dlor.nn import DLoRLinear
from dlor.rank1 import (
    ACTIVATIONS,
    ActivationError,
    affine_collapse_bound,
    blindness_bound,
    conditional_variance,
    interpolate,
)
from tests.tolerances import EXACT_ZERO_ABS

ACCURACY = 1e-8  # the interpolation goal: max |f(x_i) - z_i| <= 1e-8 max |z| in float64


def max_rel_err(net, X, z):
    with torch.no_grad():
        return float((net(X) - z).abs().max() / z.abs().max())


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("M,d", [(1, 3), (2, 1), (40, 2), (200, 10)])
def test_scalar_interpolation(activation, M, d):
    X = torch.randn(M, d, dtype=torch.float64)
    z = torch.randn(M, dtype=torch.float64)
    net = interpolate(X, z, activation)
    assert net.width == M
    assert max_rel_err(net, X, z) <= ACCURACY


@pytest.mark.slow
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_scalar_interpolation_large(activation):
    X = torch.randn(1000, 50, dtype=torch.float64)
    z = torch.randn(1000, dtype=torch.float64)
    assert max_rel_err(interpolate(X, z, activation), X, z) <= ACCURACY


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_medium_size_interpolation(activation):
    X = torch.randn(600, 50, dtype=torch.float64)
    z = torch.randn(600, dtype=torch.float64)
    assert max_rel_err(interpolate(X, z, activation), X, z) <= ACCURACY


def test_heaviside_is_thermometer_encoding():
    """Theorem 9: the hidden layer of the sorted data is the lower-triangular matrix of ones."""
    X = torch.randn(12, 3, dtype=torch.float64)
    net = interpolate(X, torch.randn(12, dtype=torch.float64), "heaviside")
    with torch.no_grad():
        y = X @ net.v1
        H = net.hidden(X[torch.argsort(y)])
    order = torch.argsort(net.b1 / -net.u1)  # neurons by threshold
    torch.testing.assert_close(H[:, order], torch.tril(torch.ones(12, 12, dtype=torch.float64)))


def test_vector_targets_full_rank_outer_layer():
    """Theorem 10: with a full-rank outer layer, vector targets are fit exactly."""
    X = torch.randn(30, 4, dtype=torch.float64)
    Z = torch.randn(30, 3, dtype=torch.float64)
    net = interpolate(X, Z, "tanh")
    assert net.outer_weight.shape == (3, 30)
    assert net.outer_rank == 3
    with torch.no_grad():
        assert float((net(X) - Z).abs().max() / Z.abs().max()) <= ACCURACY


def test_custom_callable_activation():
    X = torch.randn(25, 2, dtype=torch.float64)
    z = torch.randn(25, dtype=torch.float64)
    net = interpolate(X, z, lambda t: torch.atan(t) + 0.1 * t)
    assert max_rel_err(net, X, z) <= ACCURACY


def test_duplicates():
    X = torch.randn(6, 2, dtype=torch.float64)
    X[4] = X[1]
    z = torch.randn(6, dtype=torch.float64)
    z[4] = z[1]
    net = interpolate(X, z, "sigmoid")
    assert net.width == 5
    assert max_rel_err(net, X, z) <= ACCURACY
    z[4] = z[1] + 1
    with pytest.raises(dlor.DLoRError, match=r"inputs \[1, 4\] are identical"):
        interpolate(X, z, "sigmoid")


@pytest.mark.parametrize("bad", [torch.sin, torch.cos, lambda t: t**2, lambda t: 3 * t - 1, lambda t: 0 * t + 2, torch.exp])
def test_dependent_translates_rejected(bad):
    X = torch.randn(10, 2, dtype=torch.float64)
    with pytest.raises(ActivationError, match="linearly dependent"):
        interpolate(X, torch.randn(10, dtype=torch.float64), bad)


def test_bad_inputs():
    X = torch.randn(5, 2, dtype=torch.float64)
    z = torch.randn(5, dtype=torch.float64)
    with pytest.raises(dlor.NonFiniteError):
        interpolate(torch.full((5, 2), float("nan"), dtype=torch.float64), z)
    with pytest.raises(dlor.NonFiniteError):
        interpolate(X, torch.full((5,), float("inf"), dtype=torch.float64))
    with pytest.raises(dlor.ShapeError, match="M = 5"):
        interpolate(X, torch.randn(4, dtype=torch.float64))
    with pytest.raises(dlor.ShapeError, match=r"\(M, d\)"):
        interpolate(torch.randn(5, dtype=torch.float64), z)
    with pytest.raises(dlor.DLoRError, match="unknown activation"):
        interpolate(X, z, "swishy")


# ------------------------------------------------------------------ affine collapse (Theorem 2)
def test_affine_collapse_bound_closed_form():
    Z = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], dtype=torch.float64)
    assert affine_collapse_bound(Z) == pytest.approx(0.0, abs=EXACT_ZERO_ABS)
    Z = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    assert affine_collapse_bound(Z) == pytest.approx(0.125)  # square: best line through the centre


class RankOneOutput(nn.Module):
    """A wide hidden layer followed by a rank-1 output layer u2 v2^T (Theorem 2's network)."""

    def __init__(self, d, width, k):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(d, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh())
        self.v2 = nn.Linear(width, 1, bias=False)
        self.u2 = nn.Linear(1, k)

    def forward(self, x):
        return self.u2(self.v2(self.hidden(x)))


def train(model, X, Z, steps=1500):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(X), Z)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(nn.functional.mse_loss(model(X), Z))


def test_rank1_output_never_beats_bound_but_dlor_output_does():
    torch.manual_seed(1)
    X = torch.randn(24, 3, dtype=torch.float64)
    Z = torch.randn(24, 2, dtype=torch.float64)
    bound = affine_collapse_bound(Z)
    assert bound > 0.1
    for seed in range(3):
        torch.manual_seed(seed)
        mse = train(RankOneOutput(3, 32, 2).double(), X, Z)
        assert mse >= bound * (1 - 1e-9)
    torch.manual_seed(0)
    dlor_net = nn.Sequential(nn.Linear(3, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), DLoRLinear(32, 2, rank=1)).double()
    assert train(dlor_net, X, Z) < 0.1 * bound


# ------------------------------------------------------------------ orthogonal blindness
def test_conditional_variance_zero_for_ridge_function_and_blind_otherwise():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (4000, 2))
    v = np.array([0.6, 0.8])
    ridge = np.tanh(3 * X @ v)
    assert conditional_variance(X, ridge, v) < 1e-3 * ridge.var()
    f = X[:, 0] ** 2 + X[:, 1] ** 2
    bound, v_best = blindness_bound(X, f)
    assert np.linalg.norm(v_best) == pytest.approx(1.0)
    assert bound > 0.05  # x^2 + y^2 varies in every direction
    assert bound <= conditional_variance(X, f, [1.0, 0.0]) + 1e-12
    # any function of v^T x has MSE >= the conditional variance: check with the best ridge fit
    y = X @ v_best
    order = np.argsort(y)
    fitted = np.empty_like(f)
    for idx in np.array_split(order, 63):
        fitted[idx] = f[idx].mean()
    assert np.mean((f - fitted) ** 2) >= 0.9 * bound
