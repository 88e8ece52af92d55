"""DLoR matrix against its dense reference (the linear_operator test-case pattern)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import dlor
from dlor import DLoR
from tests.tolerances import tol

DTYPES = [torch.float64, torch.float32]


def make(m, n, r, dtype=torch.float64, alpha=1.5, requires_grad=False):
    """A well-conditioned random DLoR (||U V^T|| ~ 1 < alpha)."""
    U = torch.randn(m, r, dtype=dtype) / math.sqrt(max(m, 1) * max(r, 1)) * 2
    V = torch.randn(n, r, dtype=dtype) / math.sqrt(max(n, 1))
    a = torch.tensor(alpha, dtype=dtype)
    for t in (a, U, V):
        t.requires_grad_(requires_grad)
    return DLoR(a, U, V)


def dense_ref(M):
    m, n = M.shape
    return M.alpha * torch.eye(m, n, dtype=M.dtype) + M.U @ M.V.T


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n,r", [(6, 6, 2), (7, 4, 3), (3, 8, 1), (5, 5, 0), (4, 4, 9), (1, 1, 1)])
class TestAgainstDense:
    def test_to_dense_and_properties(self, m, n, r, dtype):
        M = make(m, n, r, dtype)
        torch.testing.assert_close(M.to_dense(), dense_ref(M), **tol("matmul", dtype))
        assert M.shape == (m, n)
        assert M.rank == r
        assert M.num_params == 1 + r * (m + n)
        assert M.dtype == dtype

    def test_matmul_vector_matrix_batched(self, m, n, r, dtype):
        M = make(m, n, r, dtype)
        D = M.to_dense()
        x = torch.randn(n, dtype=dtype)
        X = torch.randn(n, 3, dtype=dtype)
        XB = torch.randn(2, 5, n, 3, dtype=dtype)
        torch.testing.assert_close(M @ x, D @ x, **tol("matmul", dtype))
        torch.testing.assert_close(M @ X, D @ X, **tol("matmul", dtype))
        torch.testing.assert_close(M @ XB, D @ XB, **tol("matmul", dtype))
        Y = torch.randn(2, 4, m, dtype=dtype)
        torch.testing.assert_close(Y @ M, Y @ D, **tol("matmul", dtype))

    def test_transpose(self, m, n, r, dtype):
        M = make(m, n, r, dtype)
        torch.testing.assert_close(M.T.to_dense(), M.to_dense().T, **tol("matmul", dtype))

    def test_row_application_matches_layer_formula(self, m, n, r, dtype):
        M = make(m, n, r, dtype)
        x = torch.randn(4, 2, n, dtype=dtype)
        b = torch.randn(m, dtype=dtype)
        y = dlor.dlor_linear(x, M.alpha, M.U, M.V, b)
        torch.testing.assert_close(y, x @ M.to_dense().T + b, **tol("matmul", dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_and_compose_are_closed(dtype):
    A, B = make(6, 6, 2, dtype), make(6, 6, 3, dtype, alpha=-0.4)
    S, P = A + B, A @ B
    assert isinstance(S, DLoR) and isinstance(P, DLoR)
    assert S.rank == 5 and P.rank == 5
    torch.testing.assert_close(S.to_dense(), A.to_dense() + B.to_dense(), **tol("algebra", dtype))
    torch.testing.assert_close(P.to_dense(), A.to_dense() @ B.to_dense(), **tol("algebra", dtype))
    torch.testing.assert_close((A - B).to_dense(), A.to_dense() - B.to_dense(), **tol("algebra", dtype))
    torch.testing.assert_close((2.5 * A).to_dense(), 2.5 * A.to_dense(), **tol("algebra", dtype))


@pytest.mark.parametrize("shapes", [((5, 3), (3, 7)), ((7, 3), (3, 5)), ((3, 6), (6, 4)), ((4, 4), (4, 9))])
def test_compose_rectangular(shapes):
    (m, k), (k2, n) = shapes
    A, B = make(m, k, 2), make(k2, n, 1, alpha=0.7)
    torch.testing.assert_close((A @ B).to_dense(), A.to_dense() @ B.to_dense(), **tol("algebra", torch.float64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,r", [(8, 3), (5, 0), (6, 6), (1, 1), (30, 4)])
def test_solve_inverse_logdet(n, r, dtype):
    M = make(n, n, r, dtype, alpha=-1.3)
    D = M.to_dense()
    B = torch.randn(n, 4, dtype=dtype)
    torch.testing.assert_close(M.solve(B), torch.linalg.solve(D, B), **tol("solve", dtype))
    torch.testing.assert_close(M.solve(B[:, 0]), torch.linalg.solve(D, B[:, 0]), **tol("solve", dtype))
    Binv = M.inverse()
    assert isinstance(Binv, DLoR) and Binv.rank == r
    torch.testing.assert_close(Binv.to_dense(), torch.linalg.inv(D), **tol("solve", dtype))
    s, l = M.slogdet()
    s_ref, l_ref = torch.linalg.slogdet(D)
    assert float(s) == float(s_ref)
    torch.testing.assert_close(l, l_ref, **tol("logdet", dtype))


def test_logdet_positive_and_negative():
    M = make(6, 6, 2, alpha=2.0)
    torch.testing.assert_close(M.logdet(), torch.logdet(M.to_dense()), **tol("logdet", torch.float64))
    neg = DLoR(-1.0, torch.zeros(3, 1, dtype=torch.float64), torch.zeros(3, 1, dtype=torch.float64))
    with pytest.raises(dlor.DLoRError, match="negative.*slogdet"):
        neg.logdet()


def test_alpha_zero_full_rank_is_solved_densely():
    U = torch.randn(4, 4, dtype=torch.float64)
    V = torch.eye(4, dtype=torch.float64)
    M = DLoR(0.0, U, V)
    torch.testing.assert_close(M.solve(torch.eye(4, dtype=torch.float64)), torch.linalg.inv(U))
    torch.testing.assert_close(M.inverse().to_dense(), torch.linalg.inv(U))
    torch.testing.assert_close(M.slogdet()[1], torch.linalg.slogdet(U)[1])


def test_structured_ops_cost_is_linear_in_n():
    """A 200k x 200k solve/logdet runs in O(n r^2): no n x n intermediate is ever created."""
    n, r = 200_000, 3
    M = make(n, n, r, alpha=1.0)
    b = torch.randn(n, dtype=torch.float64)
    x = M.solve(b)
    torch.testing.assert_close(M @ x, b, **tol("solve", torch.float64))
    assert torch.isfinite(M.logdet())


# ------------------------------------------------------------------ autograd
def test_gradcheck_all_operations():
    def fn(a, U, V, B):
        M = DLoR(a, U, V)
        out = [M @ B, B.T @ M, M.solve(B), M.inverse().to_dense(), M.slogdet()[1]]
        out.append((M @ M).to_dense())
        out.append((M + M.T).to_dense())
        return tuple(out)

    n, r = 5, 2
    a = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    U = (0.3 * torch.randn(n, r, dtype=torch.float64)).requires_grad_()
    V = (0.3 * torch.randn(n, r, dtype=torch.float64)).requires_grad_()
    B = torch.randn(n, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (a, U, V, B))


def test_gradients_match_dense_reference():
    M = make(7, 5, 2, requires_grad=True)
    X = torch.randn(5, 3, dtype=torch.float64)
    (M @ X).square().sum().backward()
    g = [t.grad.clone() for t in (M.alpha, M.U, M.V)]
    a, U, V = (t.detach().clone().requires_grad_() for t in (M.alpha, M.U, M.V))
    ((a * torch.eye(7, 5, dtype=torch.float64) + U @ V.T) @ X).square().sum().backward()
    for got, ref in zip(g, (a.grad, U.grad, V.grad), strict=True):
        torch.testing.assert_close(got, ref, **tol("grad", torch.float64))


# ------------------------------------------------------------------ property-based
dims = st.integers(min_value=1, max_value=9)
ranks = st.integers(min_value=0, max_value=11)


@settings(max_examples=60, deadline=None)
@given(m=dims, n=dims, r=ranks, k=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_property_matmul_and_transpose(m, n, r, k, seed):
    torch.manual_seed(seed)
    M = make(m, n, r)
    X = torch.randn(n, k, dtype=torch.float64)
    torch.testing.assert_close(M @ X, M.to_dense() @ X, **tol("matmul", torch.float64))
    torch.testing.assert_close(M.T.to_dense(), M.to_dense().T, **tol("matmul", torch.float64))
    assert M.num_params == 1 + r * (m + n)


@settings(max_examples=60, deadline=None)
@given(m=dims, k=dims, n=dims, r1=ranks, r2=ranks, seed=st.integers(0, 2**16))
def test_property_compose(m, k, n, r1, r2, seed):
    torch.manual_seed(seed)
    A, B = make(m, k, r1, alpha=0.9), make(k, n, r2, alpha=-1.1)
    torch.testing.assert_close((A @ B).to_dense(), A.to_dense() @ B.to_dense(), **tol("algebra", torch.float64))


@settings(max_examples=60, deadline=None)
@given(n=dims, r=ranks, seed=st.integers(0, 2**16))
def test_property_solve_and_logdet(n, r, seed):
    torch.manual_seed(seed)
    M = make(n, n, r, alpha=2.0)
    D = M.to_dense()
    B = torch.randn(n, 2, dtype=torch.float64)
    torch.testing.assert_close(M.solve(B), torch.linalg.solve(D, B), **tol("solve", torch.float64))
    torch.testing.assert_close(M.slogdet()[1], torch.linalg.slogdet(D)[1], **tol("logdet", torch.float64))


# ------------------------------------------------------------------ bad input
def f64(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def test_singular_alpha_zero_low_rank():
    M = DLoR(0.0, f64(5, 2), f64(5, 2))
    for op in (lambda: M.solve(f64(5)), M.inverse, M.logdet):
        with pytest.raises(dlor.SingularMatrixError, match="singular"):
            op()
    s, l = M.slogdet()
    assert float(s) == 0 and l == -math.inf


def test_singular_capacitance():
    # M = I - u u^T / (u^T u) is a projector: singular although alpha = 1.
    u = f64(6, 1)
    M = DLoR(1.0, -u / (u.T @ u), u)
    with pytest.raises(dlor.SingularMatrixError, match="capacitance"):
        M.solve(f64(6))
    with pytest.raises(dlor.SingularMatrixError):
        M.inverse()


@pytest.mark.parametrize(
    "args,err,msg",
    [
        ((1.0, f64(4, 2), f64(4, 3)), dlor.ShapeError, "same number of columns"),
        ((1.0, f64(4), f64(4, 1)), dlor.ShapeError, "2-D"),
        ((torch.ones(2, dtype=torch.float64), f64(4, 1), f64(4, 1)), dlor.ShapeError, "scalar"),
        ((1.0, f64(4, 1), torch.randn(4, 1)), dlor.DTypeError, "dtype mismatch"),
        ((1.0, torch.ones(4, 1, dtype=torch.int64), torch.ones(4, 1, dtype=torch.int64)), dlor.DTypeError, "floating"),
        ((float("nan"), f64(4, 1), f64(4, 1)), dlor.NonFiniteError, "NaN or Inf"),
        ((1.0, f64(4, 1) * float("inf"), f64(4, 1)), dlor.NonFiniteError, "U contains"),
    ],
)
def test_bad_construction(args, err, msg):
    with pytest.raises(err, match=msg):
        DLoR(*args)


def test_bad_operands():
    M = make(4, 3, 1)
    with pytest.raises(dlor.ShapeError, match="cannot multiply"):
        M @ f64(4)
    with pytest.raises(dlor.DTypeError, match="dtype mismatch"):
        M @ torch.randn(3)
    with pytest.raises(dlor.ShapeError, match="cannot multiply DLoR"):
        M @ make(4, 3, 1)
    with pytest.raises(dlor.ShapeError, match="cannot add"):
        M + make(3, 4, 1)
    with pytest.raises(dlor.ShapeError, match="square"):
        M.solve(f64(3))
    with pytest.raises(dlor.DTypeError, match="dtype mismatch"):
        M + M.to(torch.float32)
    assert isinstance(dlor.SingularMatrixError("x"), ValueError)


def test_to_dtype_roundtrip():
    M = make(4, 3, 2)
    M32 = M.to(torch.float32)
    assert M32.dtype == torch.float32 and M32.alpha.dtype == torch.float32
    torch.testing.assert_close(M32.to_dense(), M.to_dense().float(), **tol("matmul", torch.float32))
