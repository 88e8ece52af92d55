"""Compiler equivalence tests: dense MLP vs compiled DLoR network at decreasing h (PEFT-style)."""

import itertools

import pytest
import torch
from torch import nn

import dlor
from dlor.construct import AssumptionError, WideDLoRBlock, max_abs_error, to_augmented, to_deep, to_wide
from dlor.nn import DLoRLinear
from tests.tolerances import tol

SMOOTH = [nn.Softplus, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU]
PIECEWISE_LINEAR = [nn.ReLU, nn.LeakyReLU, nn.ELU]
BEST_TARGET = 1e-5  # the library goal: best option with h="auto" in float64


def random_mlp(act_cls, depth, width, d_in=2, seed=0):
    torch.manual_seed(seed)
    layers = [nn.Linear(d_in, width), act_cls()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), act_cls()]
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers).double()


def inputs(d=2, n=300):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1


@pytest.mark.parametrize("builder", [to_deep, to_wide])
@pytest.mark.parametrize("act", SMOOTH)
@pytest.mark.parametrize("depth,width,rank", [(2, 3, 1), (3, 8, 3), (4, 16, 5)])
def test_error_decreases_with_h_over_three_decades(builder, act, depth, width, rank):
    mlp = random_mlp(act, depth, width)
    X = inputs()
    errs = [max_abs_error(builder(mlp, rank, h, order=1), mlp, X) for h in (1e-1, 1e-2, 1e-3, 1e-4)]  # the O(h) scheme
    assert all(a > b for a, b in itertools.pairwise(errs)), errs
    assert errs[-1] < errs[0] / 100


@pytest.mark.parametrize("builder", [to_deep, to_wide])
@pytest.mark.parametrize("act", PIECEWISE_LINEAR)
def test_piecewise_linear_exact_once_in_linear_region(builder, act):
    """With c > 0 (default 1) the construction is exact once c + h z stays in the linear region."""
    mlp = random_mlp(act, 3, 8)
    X = inputs()
    big = max_abs_error(builder(mlp, 3, 30.0), mlp, X)
    small = max_abs_error(builder(mlp, 3, 1e-3), mlp, X)
    assert big > 1e-3 and small < 1e-10


@pytest.mark.parametrize("builder", [to_deep, to_wide])
@pytest.mark.parametrize(
    "act",  # make test: one smooth, one odd and one piecewise-linear activation; -m slow: all of them
    [a if a in (nn.Softplus, nn.Tanh, nn.ReLU) else pytest.param(a, marks=pytest.mark.slow) for a in SMOOTH + PIECEWISE_LINEAR],
)
@pytest.mark.parametrize("depth,width", [(2, 3), pytest.param(3, 16, marks=pytest.mark.slow), (4, 7)])
def test_best_option_with_auto_h(builder, act, depth, width):
    mlp = random_mlp(act, depth, width, seed=depth)
    X = inputs()
    net = builder(mlp, 2, "auto", order=2, sample=X)
    assert max_abs_error(net, mlp, X) <= BEST_TARGET
    fresh = inputs(n=200) * 0.9  # held-out points in the same box
    assert max_abs_error(net, mlp, fresh) <= BEST_TARGET


def test_all_hidden_weights_are_dlor_and_counts_match_theorem_8():
    N = 6
    mlp = random_mlp(nn.Tanh, 3, N)
    net = to_deep(mlp, 1, 1e-3, order=1)  # one chain, the count of Theorem 8
    chain = net.chains[0]
    dense_hidden = [m for m in chain if isinstance(m, nn.Linear)]
    assert [tuple(m.weight.shape) for m in dense_hidden] == [(N, 2), (1, N)]  # only the thin I/O layers
    dl = [m for m in chain if isinstance(m, DLoRLinear)]
    assert len(dl) == 2 * N  # two hidden N x N layers, N rank-1 factors each
    stats = net.stats(mlp)
    assert stats["params"]["dlor_weights"] == 2 * N * (2 * N + 1)  # Theorem 8: W(2W+1) per layer
    assert stats["width"] == N and stats["depth"] == 2 * N + 2
    assert stats["dense"]["params"]["dense_weights"] == N * 2 + 2 * N * N + N


def test_wide_structure_and_betas():
    mlp = random_mlp(nn.Softplus, 2, 8)
    net = to_wide(mlp, 3, 1e-3)
    blocks = [m for m in net.chains[0] if isinstance(m, WideDLoRBlock)]
    assert len(blocks) == 1 and len(blocks[0].branches) == 3
    assert abs(float(blocks[0].coefs.sum())) < 1e-6 * float(blocks[0].coefs.abs().max())
    custom = to_wide(mlp, 3, 1e-3, betas=[2.0, -1.0, -1.0])
    assert max_abs_error(custom, mlp, inputs()) < 1e-2
    with pytest.raises(dlor.DLoRError, match="sum to zero"):
        to_wide(mlp, 3, 1e-3, betas=[1.0, 1.0, 1.0])
    with pytest.raises(dlor.DLoRError, match="L = 3"):
        to_wide(mlp, 3, 1e-3, betas=[1.0, -1.0])


def test_augmented_converges():
    mlp = random_mlp(nn.Tanh, 3, 4)
    X = inputs()
    e1 = max_abs_error(to_augmented(mlp, 1e-2, eps=1e-2), mlp, X)
    e2 = max_abs_error(to_augmented(mlp, 1e-3, eps=1e-4), mlp, X)
    e3 = max_abs_error(to_augmented(mlp, "auto", eps=1e-7), mlp, X)
    assert e1 > e2 > e3 and e3 < 1e-5
    net = to_augmented(mlp, 1e-3)
    assert net.stats()["width"] == 8  # 2N


def test_rectangular_embed_option():
    torch.manual_seed(3)
    mlp = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    X = torch.rand(100, 3, dtype=torch.float64)
    net = to_deep(mlp, 2, "auto", order=2, rectangular="embed", sample=X)
    assert max_abs_error(net, mlp, X) < 1e-6
    assert not any(isinstance(m, nn.Linear) and m.out_features > 1 for m in net.chains[0])


def test_paper_literal_settings_run():
    mlp = random_mlp(nn.Softplus, 3, 8)
    net = to_deep(mlp, 3, 1e-4, c=0.5, alpha=0.8, decomposition="paper")
    assert max_abs_error(net, mlp, inputs()) < 1e-2


def test_float32_conversion_runs():
    mlp = random_mlp(nn.Tanh, 3, 8)
    net = to_deep(mlp, 2, 1e-3).float()
    err = max_abs_error(net, mlp.float(), inputs().float())
    assert err < 1e-2


# ------------------------------------------------------------------ bad input
def test_bad_inputs():
    mlp = random_mlp(nn.Tanh, 2, 4)
    affine = nn.Sequential(nn.Linear(2, 4), Affine(), nn.Linear(4, 4), Affine(), nn.Linear(4, 1)).double()
    with pytest.raises(AssumptionError, match="affine"):
        to_deep(affine, 1, 1e-3, elementwise=(Affine,))
    with pytest.raises(dlor.DLoRError, match="Affine"):
        to_deep(affine, 1, 1e-3)  # not declared elementwise
    with pytest.raises(AssumptionError, match="c > 0"):
        to_deep(random_mlp(nn.ReLU, 2, 4), 1, 1e-3, c=-1.0)
    with pytest.raises(AssumptionError, match="rho'"):
        to_deep(random_mlp(nn.ReLU, 2, 4), 1, 1e-3, c=0.0)
    with pytest.raises(dlor.DLoRError, match="BatchNorm1d"):
        to_deep(nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Tanh()), 1, 1e-3)
    drop = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Dropout(0.5), nn.Linear(4, 4), nn.Tanh())
    with pytest.raises(dlor.DLoRError, match="training mode"):
        to_deep(drop, 1, 1e-3)
    drop.eval()
    to_deep(drop.double(), 1, 1e-3)  # eval-mode dropout is the identity
    singular = random_mlp(nn.Tanh, 2, 4)
    with torch.no_grad():
        singular[2].weight[:, 0] = singular[2].weight[:, 1]
    with pytest.raises(dlor.SingularMatrixError, match="perturb"):
        to_deep(singular, 1, 1e-3)
    net = to_deep(singular, 1, 1e-4, perturb=1e-8)
    assert max_abs_error(net, singular, inputs()) < 1e-2
    with pytest.raises(dlor.DLoRError, match="'auto'"):
        to_deep(mlp, 1, "fast")
    with pytest.raises(dlor.DLoRError, match="positive"):
        to_deep(mlp, 1, -1.0)
    with pytest.raises(dlor.RankError):
        to_deep(mlp, 0, 1e-3)
    with pytest.raises(dlor.DLoRError, match="nn.Sequential"):
        to_deep(nn.Linear(2, 2), 1, 1e-3)


class Affine(nn.Module):
    def forward(self, x):
        return 2 * x + 1


class Atan(nn.Module):
    def forward(self, x):
        return torch.atan(x)


def test_custom_elementwise_module():
    mlp = nn.Sequential(nn.Linear(2, 4), Atan(), nn.Linear(4, 4), Atan(), nn.Linear(4, 1)).double()
    X = inputs()
    errs = [max_abs_error(to_deep(mlp, 2, h, elementwise=(Atan,)), mlp, X) for h in (1e-2, 1e-3, 1e-4)]
    assert errs[0] > errs[1] > errs[2]


# ---------------------------------------------------------------------------------------------
# Affine stages (an nn.Identity "activation", a square readout) are factored exactly, never
# skipped silently; whatever stays dense is named by stats() and, unless documented, warned about.


def _affine_chain(width=5, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(width, width), nn.Identity(), nn.Linear(width, width), nn.Identity(), nn.Linear(width, width)
    ).double()


@pytest.mark.parametrize("builder", [to_deep, to_wide])
@pytest.mark.parametrize("h", [1.0, 1e-3])
def test_an_affine_chain_is_factored_exactly_whatever_h(builder, h):
    mlp = _affine_chain()
    net = builder(mlp, 2, h)
    assert not any(isinstance(m, nn.Linear) for m in net.modules()), "a square affine layer was left dense"
    assert any(isinstance(m, DLoRLinear) for m in net.modules())
    X = inputs(d=5)
    with torch.no_grad():
        torch.testing.assert_close(net(X), mlp(X), **tol("solve", torch.float64))
    assert net.stats()["dense_layers"] == []


@pytest.mark.parametrize("builder", [to_deep, to_wide])
def test_identity_between_hidden_layers_compiles_every_square_layer(builder):
    torch.manual_seed(0)
    mlp = nn.Sequential(
        nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 6), nn.Identity(), nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 1)
    ).double()
    net = builder(mlp, 2, 1e-4)
    square_dense = [m for m in net.modules() if isinstance(m, nn.Linear) and m.in_features == m.out_features]
    assert square_dense == []
    assert max_abs_error(net, mlp, inputs()) < 1e-2
    dense = net.stats()["dense_layers"]  # the thin input and output layers, kept dense by the default
    assert [(d["stage"], d["shape"]) for d in dense] == [(0, [6, 2]), (3, [1, 6])]
    assert all("rectangular='dense'" in d["reason"] for d in dense)


def test_a_layer_left_dense_without_a_documented_reason_warns_and_is_named():
    mlp = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4), nn.Identity(), nn.Linear(4, 4), nn.Tanh()).double()
    with pytest.warns(UserWarning, match="stage 1 .* left dense: affine"):
        net = to_augmented(mlp, 1e-3)
    assert [d["stage"] for d in net.stats()["dense_layers"]] == [1]
