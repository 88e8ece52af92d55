"""additive_decompose, hybrid_decompose, nearest_dlor, spectral_contributions, from_linear."""

import math

import pytest
import torch
from torch import nn

import dlor
from dlor.decompose._common import dense_product, dense_sum
from dlor.nn import DLoRLinear
from tests.tolerances import RECONSTRUCTION, tol


def rel(A, B):
    return float(torch.linalg.norm(A.double() - B.double()) / torch.linalg.norm(B.double()))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(1, 1), (7, 7), (16, 16), (9, 4), (4, 9), (64, 64)])
@pytest.mark.parametrize("alpha", [0.0, 1.7])
def test_additive_sums_to_W(shape, alpha, dtype):
    W = torch.randn(*shape, dtype=dtype)
    for r in sorted({1, 3, min(shape), max(shape) + 2}):
        comps = dlor.additive_decompose(W, r, alpha=alpha)
        k = min(shape)
        assert len(comps) == max(1, math.ceil(k / r))
        assert all(M.rank <= r for M in comps)
        torch.testing.assert_close(sum(float(M.alpha) for M in comps), alpha, **tol("algebra", dtype))
        assert rel(dense_sum(comps), W) <= RECONSTRUCTION[dtype]


def test_additive_uses_numerical_rank():
    U, V = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, 3, dtype=torch.float64)
    comps, cert = dlor.additive_decompose(U @ V.T, 2, return_certificate=True)
    assert cert.extras["numerical_rank"] == 3 and len(comps) == 2
    assert cert.reconstruction_error <= RECONSTRUCTION[torch.float64]


@pytest.mark.parametrize("n,r,b", [(12, 2, 3), (30, 4, 2), (17, 3, 4), (8, 8, 1), (64, 5, 4)])
def test_hybrid_reconstruction(n, r, b):
    W = torch.randn(n, n, dtype=torch.float64)
    branches, cert = dlor.hybrid_decompose(W, r, b, return_certificate=True)
    assert len(branches) == b
    for f in branches:
        assert len({float(M.alpha) for M in f}) == 1
        assert all(M.rank <= r for M in f)
    assert max(len(f) for f in branches) <= math.ceil(math.ceil(n / b) / r)
    assert rel(sum(dense_product(f) for f in branches), W) <= RECONSTRUCTION[torch.float64]
    assert cert.reconstruction_error <= RECONSTRUCTION[torch.float64]


def test_hybrid_permutation_and_bad_input():
    P = torch.eye(10, dtype=torch.float64)[torch.randperm(10)]
    assert rel(sum(dense_product(f) for f in dlor.hybrid_decompose(P, 2, 2)), P) <= RECONSTRUCTION[torch.float64]
    with pytest.raises(dlor.DLoRError, match="branches"):
        dlor.hybrid_decompose(P, 2, 0)
    with pytest.raises(dlor.ShapeError, match="square"):
        dlor.hybrid_decompose(torch.ones(2, 3, dtype=torch.float64), 1, 1)


def test_nearest_never_worse_than_eckart_young():
    for shape in [(20, 20), (15, 8), (8, 15)]:
        W = torch.randn(*shape, dtype=torch.float64)
        for r in (1, 3):
            M, cert = dlor.nearest_dlor(W, r, return_certificate=True)
            err = rel(M.to_dense(), W)
            s = torch.linalg.svdvals(W)
            ey = float(torch.sqrt((s[r:] ** 2).sum()) / torch.linalg.norm(W))
            assert err <= ey * (1 + 1e-12)
            assert cert.extras["eckart_young_error"] == pytest.approx(ey, rel=tol("logdet", torch.float64)["rtol"])


def test_nearest_strictly_better_with_identity_component():
    n, r = 40, 3
    U, V = torch.randn(n, r, dtype=torch.float64), torch.randn(n, r, dtype=torch.float64)
    W = 3 * torch.eye(n, dtype=torch.float64) + U @ V.T + 1e-3 * torch.randn(n, n, dtype=torch.float64)
    M, cert = dlor.nearest_dlor(W, r, return_certificate=True)
    assert abs(float(M.alpha) - 3) < 1e-2
    assert cert.reconstruction_error < 0.01 * cert.extras["eckart_young_error"]

    # local optimality: moving alpha either way (and re-truncating) cannot help
    def best_err(a):
        s = torch.linalg.svdvals(W - a * torch.eye(n, dtype=torch.float64))
        return float(torch.sqrt((s[r:] ** 2).sum()))

    a = float(M.alpha)
    e0 = best_err(a)
    assert e0 <= best_err(a + 1e-4) and e0 <= best_err(a - 1e-4)
    assert e0 == pytest.approx(float(torch.linalg.norm(W - M.to_dense())), rel=tol("solve", torch.float64)["rtol"])


def test_nearest_is_global_on_a_grid_check():
    """A fine grid never finds a better alpha than the certified search (checking, not searching)."""
    W = torch.randn(12, 12, dtype=torch.float64) + 0.7 * torch.eye(12, dtype=torch.float64)
    M = dlor.nearest_dlor(W, 2)
    best = float(torch.linalg.norm(W - M.to_dense()))
    for a in torch.linspace(-6, 6, 601, dtype=torch.float64):
        s = torch.linalg.svdvals(W - a * torch.eye(12, dtype=torch.float64))
        assert float(torch.sqrt((s[2:] ** 2).sum())) >= best * (1 - 1e-3)


def test_nearest_full_rank_is_exact():
    W = torch.randn(5, 5, dtype=torch.float64)
    assert rel(dlor.nearest_dlor(W, 5).to_dense(), W) <= RECONSTRUCTION[torch.float64]


def test_from_linear():
    lin = nn.Linear(20, 12)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(12, 20) * 2 + 0.01 * torch.randn(12, 20))
    layer = DLoRLinear.from_linear(lin, 2)
    x = torch.randn(5, 20)
    assert float(layer.alpha.detach()) == pytest.approx(2.0, abs=0.05)
    torch.testing.assert_close(layer.bias, lin.bias)
    assert float((layer(x) - lin(x)).abs().max()) < 0.2
    with pytest.raises(dlor.DLoRError, match="nn.Linear"):
        DLoRLinear.from_linear(nn.Conv1d(2, 2, 1), 2)


def test_spectral_contributions():
    n = 16
    M = dlor.DLoR(0.9, torch.randn(n, 4, dtype=torch.float64), torch.randn(n, 4, dtype=torch.float64))
    sc = dlor.spectral_contributions(M)
    torch.testing.assert_close(sc["low_rank"] + sc["identity"], sc["singular_values"])
    P, s, Qh = torch.linalg.svd(M.to_dense())
    torch.testing.assert_close(sc["identity"], 0.9 * torch.diag(P.T @ Qh.T))
    Ws = [torch.randn(n, n, dtype=torch.float64) for _ in range(3)]
    out = dlor.spectral_contributions(Ws)
    assert out["branches"].shape == (3, n)
    # rows of sum_i diag(P^T W_i Q) reproduce the singular values
    P, s, Qh = torch.linalg.svd(sum(Ws))
    signed = torch.stack([torch.diag(P.T @ Wi @ Qh.T) for Wi in Ws])
    torch.testing.assert_close(signed.sum(0), s)
    torch.testing.assert_close(signed.abs(), out["branches"])
    with pytest.raises(dlor.DLoRError):
        dlor.spectral_contributions([])


@pytest.mark.parametrize("fn", [dlor.additive_decompose, dlor.nearest_dlor])
def test_bad_inputs(fn):
    with pytest.raises(dlor.RankError):
        fn(torch.eye(3, dtype=torch.float64), 0)
    with pytest.raises(dlor.NonFiniteError):
        fn(torch.full((3, 3), float("inf"), dtype=torch.float64), 1)
    with pytest.raises(dlor.DTypeError):
        fn(torch.eye(3, dtype=torch.int32), 1)
