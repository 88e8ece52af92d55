"""multiplicative_decompose: W == M_L ... M_1 to machine precision on every invertible W."""

import math

import numpy as np
import pytest
import torch

import dlor
from dlor.decompose._common import dense_product
from tests.tolerances import PAPER_METHOD_RECONSTRUCTION, PERTURBED_RECONSTRUCTION, RECONSTRUCTION, tol


def rel_err(W, factors):
    W64 = W.double()
    return float(torch.linalg.norm(dense_product(factors) - W64) / torch.linalg.norm(W64))


def family(kind, n, dtype=torch.float64):
    g = torch.Generator().manual_seed(n * 31 + len(kind))
    if kind == "gaussian":
        return torch.randn(n, n, generator=g, dtype=dtype)
    if kind == "orthogonal":
        return torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))[0].to(dtype)
    if kind == "permutation":
        return torch.eye(n, dtype=dtype)[torch.randperm(n, generator=g)]
    if kind == "cyclic_shift":  # upper Hessenberg with a zero diagonal: every pivot needs a shear
        return torch.eye(n, dtype=dtype).roll(1, 0)
    if kind == "antidiagonal":
        return torch.eye(n, dtype=dtype).flip(0)
    if kind == "triangular":
        return torch.triu(torch.randn(n, n, generator=g, dtype=dtype)) + 3 * torch.eye(n, dtype=dtype)
    if kind == "diag_dominant":
        return torch.randn(n, n, generator=g, dtype=dtype) + 2 * n * torch.eye(n, dtype=dtype)
    if kind == "rotation":  # block-diagonal 90-degree rotations: purely imaginary eigenvalues
        R = torch.zeros(n, n, dtype=dtype)
        for i in range(0, n - 1, 2):
            R[i, i + 1], R[i + 1, i] = -1.0, 1.0
        if n % 2:
            R[-1, -1] = 1.0
        return R
    raise ValueError(kind)


KINDS = ["gaussian", "orthogonal", "permutation", "cyclic_shift", "antidiagonal", "triangular", "diag_dominant", "rotation"]


def ranks_for(n):
    if n <= 16:
        return list(range(1, n + 1))
    return sorted({1, 2, 3, 5, n // 3, n // 2 + 1, n - 1, n})


METHODS = ["hessenberg", "schur"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 2, 7, 16, 64, 257])
def test_reconstruction_float64(kind, n, method):
    W = family(kind, n)
    for r in ranks_for(n):
        factors = dlor.multiplicative_decompose(W, r, method=method)
        assert len(factors) == math.ceil(n / r)
        alphas = {float(M.alpha) for M in factors}
        assert len(alphas) == 1 and 0 not in alphas
        assert all(M.rank <= r for M in factors)
        assert rel_err(W, factors) <= RECONSTRUCTION[torch.float64], (kind, n, r)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n,r", [(16, 1), (64, 5), (64, 64), (257, 16)])
def test_reconstruction_float32(kind, n, r, method):
    W = family(kind, n, torch.float32)
    factors = dlor.multiplicative_decompose(W, r, method=method)
    assert all(M.dtype == torch.float32 for M in factors)
    assert rel_err(W, factors) <= RECONSTRUCTION[torch.float32]


def test_product_order_matches_network_application():
    """M_1 acts first: x -> M_L(...M_1 x)."""
    W = family("gaussian", 9)
    factors = dlor.multiplicative_decompose(W, 2)
    x = torch.randn(9, dtype=torch.float64)
    y = x
    for M in factors:
        y = M @ y
    torch.testing.assert_close(y, W @ x, **tol("matmul", torch.float64))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("log_cond", [2, 4, 6, 8])
def test_ill_conditioned_error_bounded_by_cond_eps(log_cond, method):
    """Both stable methods are backward stable: the error stays near n*eps, far inside cond(W)*eps."""
    n = 48
    g = torch.Generator().manual_seed(log_cond)
    Q1 = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))[0]
    Q2 = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))[0]
    s = torch.logspace(0, -log_cond, n, dtype=torch.float64)
    W = (Q1 * s) @ Q2.T
    eps = torch.finfo(torch.float64).eps
    for r in (1, 4, 17):
        err = rel_err(W, dlor.multiplicative_decompose(W, r, method=method))
        assert err <= 10.0**log_cond * eps
        assert err <= RECONSTRUCTION[torch.float64]


def test_user_alpha_is_honoured_and_certificate():
    W = family("gaussian", 16)
    factors, cert = dlor.multiplicative_decompose(W, 6, alpha=0.8, return_certificate=True)
    assert all(float(M.alpha) == pytest.approx(0.8) for M in factors)
    assert cert.alpha == pytest.approx(0.8)
    assert cert.reconstruction_error <= RECONSTRUCTION[torch.float64]
    assert cert.max_partial_condition >= 1.0
    assert cert.extras["L"] == 3


def test_default_alpha_partial_products_well_conditioned():
    W = family("orthogonal", 32)
    _, cert = dlor.multiplicative_decompose(W, 1, method="schur", return_certificate=True)
    assert cert.max_partial_condition < 10.0  # Schur basis, orthogonal W: every partial product near-orthogonal
    # Hessenberg basis: the partial products are compressions of W, a little worse conditioned
    # (about 2 sqrt(n) for orthogonal W, measured); a growth bug would show up as orders of magnitude.
    _, cert = dlor.multiplicative_decompose(W, 1, return_certificate=True)
    assert cert.method == "hessenberg" and cert.max_partial_condition < 100.0


def test_literal_paper_method_is_available_and_differs():
    W = family("gaussian", 12)
    factors, cert = dlor.multiplicative_decompose(W, 3, alpha=0.8, method="paper", return_certificate=True)
    assert len(factors) == 4 and cert.method == "paper"
    assert cert.reconstruction_error < PAPER_METHOD_RECONSTRUCTION
    # Z = I breaks on a permutation (vanishing leading minors): the literal method yields non-finite factors
    P = family("antidiagonal", 6)
    with np.errstate(all="ignore"):
        try:
            bad = dlor.multiplicative_decompose(P, 1, alpha=0.8, method="paper", basis="identity")
            finite = all(torch.isfinite(M.U).all() and torch.isfinite(M.V).all() for M in bad)
            ok = finite and rel_err(P, bad) < PAPER_METHOD_RECONSTRUCTION
        except np.linalg.LinAlgError:
            ok = False
    assert not ok
    assert rel_err(P, dlor.multiplicative_decompose(P, 1)) <= RECONSTRUCTION[torch.float64]


def test_perturb_handles_singular():
    W = family("gaussian", 10)
    W[:, 0] = W[:, 1]
    with pytest.raises(dlor.SingularMatrixError, match="perturb=eps"):
        dlor.multiplicative_decompose(W, 2)
    factors, cert = dlor.multiplicative_decompose(W, 2, perturb=1e-6, return_certificate=True)
    assert 0 < cert.perturbation < 1e-5
    assert cert.reconstruction_error <= RECONSTRUCTION[torch.float64] * 100  # exact for the moved matrix
    assert rel_err(W, factors) < PERTURBED_RECONSTRUCTION * 10


def test_rectangular_via_embed_square():
    W = torch.randn(5, 9, dtype=torch.float64)
    with pytest.raises(dlor.ShapeError, match="embed_square"):
        dlor.multiplicative_decompose(W, 2)
    Wt = dlor.embed_square(W)
    assert Wt.shape == (9, 9)
    torch.testing.assert_close(Wt[:5, :9], W)
    factors = dlor.multiplicative_decompose(Wt, 2)
    x = torch.randn(9, dtype=torch.float64)
    y = x
    for M in factors:
        y = M @ y
    torch.testing.assert_close(y[:5], W @ x, **tol("solve", torch.float64))
    tall = torch.randn(8, 3, dtype=torch.float64)
    Tt = dlor.embed_square(tall)
    torch.testing.assert_close(Tt @ torch.cat([x[:3], torch.zeros(5, dtype=torch.float64)]), tall @ x[:3])
    assert torch.linalg.cond(Tt) < 1e6


@pytest.mark.parametrize(
    "W,kwargs,err,msg",
    [
        (torch.zeros(4, 4, dtype=torch.float64), {"rank": 1}, dlor.SingularMatrixError, "singular"),
        (torch.full((3, 3), float("nan"), dtype=torch.float64), {"rank": 1}, dlor.NonFiniteError, "NaN"),
        (torch.eye(3, dtype=torch.float64), {"rank": 0}, dlor.RankError, "rank"),
        (torch.eye(3, dtype=torch.float64), {"rank": 1, "alpha": 0.0}, dlor.DLoRError, "nonzero"),
        (torch.ones(3, 4, dtype=torch.float64), {"rank": 1}, dlor.ShapeError, "square"),
        (torch.eye(3, dtype=torch.int64), {"rank": 1}, dlor.DTypeError, "floating"),
        (torch.ones(3, dtype=torch.float64), {"rank": 1}, dlor.ShapeError, "2-D"),
    ],
)
def test_bad_inputs(W, kwargs, err, msg):
    with pytest.raises(err, match=msg):
        dlor.multiplicative_decompose(W, **kwargs)
