"""Well-conditioned DLoR matrices are solved, singular ones refused: against the dense float64 reference."""

import math

import pytest
import torch

import dlor
from dlor import DLoR
from dlor.nn import DLoRLinear
from tests.tolerances import BACKWARD_EPS, FORWARD_EPS, tol


def _matrix(n, r, alpha, dtype, kind, seed=0):
    g = torch.Generator().manual_seed(seed)
    U = torch.randn(n, r, generator=g, dtype=torch.float64) / math.sqrt(r)
    V = U if kind == "psd" else torch.randn(n, r, generator=g, dtype=torch.float64) / math.sqrt(r)
    return DLoR(alpha, U.to(dtype), V.to(dtype))


def _check_solve_and_logdet(M: DLoR):
    dtype, eps = M.dtype, torch.finfo(M.dtype).eps
    n = M.shape[0]
    b = torch.randn(n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = M.solve(b.to(dtype)).double()
    D = M.to(torch.float64).to_dense()
    LU, pivots = torch.linalg.lu_factor(D)  # one factorisation for the reference solve and logdet
    x_ref = torch.linalg.lu_solve(LU, pivots, b[:, None])[:, 0]
    s = M.to(torch.float64).svdvals()
    backward = float((D @ x - b).norm() / (s[0] * x.norm()))
    forward = float((x - x_ref).norm() / x_ref.norm())
    cond = float(s[0] / s[-1])
    assert backward <= BACKWARD_EPS * eps, backward
    assert forward <= FORWARD_EPS * eps * cond, (forward, cond)
    sign, logabs = M.slogdet()
    diag = torch.diagonal(LU)
    swaps = int((pivots != torch.arange(1, n + 1, dtype=pivots.dtype)).sum())
    sign_ref = torch.sign(diag).prod() * (-1) ** swaps
    logabs_ref = diag.abs().log().sum()
    assert float(sign) == float(sign_ref)
    torch.testing.assert_close(logabs.double(), logabs_ref, **tol("logdet", dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_psd_float32_case_that_was_refused(dtype):
    """alpha I + U U^T, n 2048, r 32, alpha 0.5: PSD with sigma_min 0.5, condition number about 160."""
    M = _matrix(2048, 32, 0.5, dtype, "psd")
    assert float(M.cond()) < 200
    _check_solve_and_logdet(M)
    I = torch.eye(2048, dtype=torch.float64)
    torch.testing.assert_close(
        M.inverse().to(torch.float64).to_dense() @ M.to(torch.float64).to_dense(),
        I,
        rtol=0,
        atol=BACKWARD_EPS * torch.finfo(dtype).eps * 200,
    )


def test_trained_alpha_layer_solves_in_float32():
    """A DLoRLinear(4096, 4096, 64) whose alpha was trained down to 0.05, in float32."""
    layer = DLoRLinear(4096, 4096, rank=64)
    with torch.no_grad():
        layer.alpha.fill_(0.05)
    M = DLoR(layer.alpha.detach(), layer.U.detach(), layer.V.detach())
    assert M.dtype == torch.float32
    _check_solve_and_logdet(M)
    M.inverse()  # not refused


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["psd", "general"])
@pytest.mark.parametrize("alpha", [1e-3, 1.0, 10.0])
def test_solve_and_logdet_over_kinds_and_alphas(dtype, kind, alpha):
    _check_solve_and_logdet(_matrix(512, 8, alpha, dtype, kind))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["psd", "general"])
def test_smallest_alpha_at_n_4096(dtype, kind):
    _check_solve_and_logdet(_matrix(4096, 64, 1e-3, dtype, kind))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["psd", "general"])
@pytest.mark.parametrize("n, r, alpha", [(4096, 64, 1.0), (4096, 64, 10.0), (8192, 16, 1e-3), (8192, 16, 2.0)])
def test_solve_at_large_n(dtype, kind, n, r, alpha):
    _check_solve_and_logdet(_matrix(n, r, alpha, dtype, kind))


@pytest.mark.parametrize("kind", ["psd", "general"])
def test_svdvals_cond_and_lowrank_norm_equal_the_dense_ones(kind):
    for n, r in ((40, 3), (10, 6), (7, 7)):  # n > 2r, n < 2r, r = n
        M = _matrix(n, r, 0.7, torch.float64, kind)
        D = M.to_dense()
        torch.testing.assert_close(M.svdvals(), torch.linalg.svdvals(D), **tol("algebra", torch.float64))
        torch.testing.assert_close(M.cond(), torch.linalg.cond(D), **tol("solve", torch.float64))
        torch.testing.assert_close(M.lowrank_norm(), torch.linalg.matrix_norm(M.U @ M.V.T, 2), **tol("algebra", torch.float64))


def test_cond_of_a_singular_matrix_is_inf():
    M = DLoR(0.0, torch.randn(6, 2, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64))
    assert M.cond() == math.inf


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_truly_singular_matrices_are_still_refused(dtype):
    U = torch.randn(300, 4, dtype=dtype)
    V = torch.randn(300, 4, dtype=dtype)
    with pytest.raises(dlor.SingularMatrixError, match="zero at working precision"):
        DLoR(0.0, U, V).solve(torch.randn(300, dtype=dtype))
    # alpha = -v^T u: the capacitance alpha + v^T u is exactly zero
    u, v = U[:, :1], V[:, :1]
    alpha = -(v.T @ u).reshape(())
    with pytest.raises(dlor.SingularMatrixError, match="capacitance"):
        DLoR(alpha, u, v).solve(torch.randn(300, dtype=dtype))
    # alpha = -lambda(V^T U) for a real eigenvalue of a symmetric V^T U
    S = torch.randn(4, 4, dtype=torch.float64)
    S = S + S.T
    lam = torch.linalg.eigvalsh(S)[0]
    Q = torch.linalg.qr(torch.randn(300, 4, dtype=torch.float64))[0]
    M = DLoR((-lam).to(dtype), (Q @ S).to(dtype), Q.to(dtype))  # V^T U = S
    with pytest.raises(dlor.SingularMatrixError):
        M.solve(torch.randn(300, dtype=dtype))
