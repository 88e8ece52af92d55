"""DLoRLinear against the dense layer it represents."""

import io

import pytest
import torch
from torch import nn

import dlor
from dlor.nn import DLoRLinear
from tests._structured_layer_case import StructuredLayerCase
from tests.tolerances import EXACT, tol


class _DLoRLinearCase(StructuredLayerCase):
    out_features = 6

    def create(self, dtype):
        return DLoRLinear(self.in_features, self.out_features, 2, dtype=dtype)

    def dense_reference(self, layer, x):
        return x @ layer.weight.T + layer.bias  # weight: I_{m x n} alpha + U V^T, formed densely


class TestDLoRLinearSquare(_DLoRLinearCase):
    pass


class TestDLoRLinearWidening(_DLoRLinearCase):  # Remark 2: alpha acts on x zero-padded
    in_features, out_features = 4, 7


class TestDLoRLinearNarrowing(_DLoRLinearCase):  # Remark 2: alpha acts on x truncated
    in_features, out_features = 7, 4


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n,m,r", [(8, 8, 2), (10, 4, 3), (3, 9, 1), (1, 1, 1), (5, 5, 5)])
@pytest.mark.parametrize("lead", [(), (4,), (2, 3)])
def test_forward_matches_dense(n, m, r, lead, dtype):
    layer = DLoRLinear(n, m, r, dtype=dtype)
    x = torch.randn(*lead, n, dtype=dtype)
    ref = x @ layer.weight.T + layer.bias
    out = layer(x)
    assert out.shape == (*lead, m)
    torch.testing.assert_close(out, ref, **tol("layer", dtype))


def test_rectangular_identity_padding_and_truncation():
    """Remark 2: alpha acts on x zero-padded (m > n) or truncated (m < n)."""
    up = DLoRLinear(2, 4, 1, bias=False, dtype=torch.float64)
    down = DLoRLinear(4, 2, 1, bias=False, dtype=torch.float64)
    for layer in (up, down):
        with torch.no_grad():
            layer.U.zero_()
            layer.alpha.fill_(3.0)
    torch.testing.assert_close(
        up(torch.tensor([1.0, 2.0], dtype=torch.float64)), torch.tensor([3.0, 6.0, 0, 0], dtype=torch.float64)
    )
    torch.testing.assert_close(
        down(torch.tensor([1.0, 2.0, 5, 7], dtype=torch.float64)), torch.tensor([3.0, 6.0], dtype=torch.float64)
    )


def test_no_bias_and_frozen_alpha():
    layer = DLoRLinear(6, 6, 2, bias=False, alpha_trainable=False, alpha_init=0.5)
    names = {n for n, _ in layer.named_parameters()}
    assert names == {"U", "V"}
    assert float(layer.alpha) == 0.5
    assert "alpha" in layer.state_dict()
    assert layer.num_params == 1 + 2 * 12


def test_matrix_shares_parameters_and_gradients():
    layer = DLoRLinear(5, 5, 2, dtype=torch.float64)
    M = layer.matrix
    assert isinstance(M, dlor.DLoR)
    assert M.U is layer.U and M.V is layer.V
    x = torch.randn(3, 5, dtype=torch.float64)
    layer(x).sum().backward()
    grads = [p.grad.clone() for p in (layer.alpha, layer.U, layer.V, layer.bias)]
    for p in layer.parameters():
        p.grad = None
    (x @ layer.weight.T + layer.bias).sum().backward()
    for got, p in zip(grads, (layer.alpha, layer.U, layer.V, layer.bias), strict=True):
        torch.testing.assert_close(got, p.grad, **tol("grad", torch.float64))


def test_initialisation_scale_matches_nn_linear():
    """U V^T x has the per-coordinate variance of nn.Linear's default, and alpha = 1."""
    n, r = 512, 16
    layer = DLoRLinear(n, n, r, bias=False)
    dense = nn.Linear(n, n, bias=False)
    x = torch.randn(4096, n)
    low_rank = (x @ layer.V) @ layer.U.T
    assert float(layer.alpha) == 1.0
    ratio = low_rank.var() / (x @ dense.weight.T).var()
    assert 0.8 < float(ratio) < 1.25


def test_state_dict_roundtrip():
    a = DLoRLinear(7, 5, 3)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = DLoRLinear(7, 5, 3)
    b.load_state_dict(torch.load(buf))
    x = torch.randn(4, 7)
    torch.testing.assert_close(a(x), b(x), **EXACT)
    with pytest.raises(RuntimeError, match="size mismatch"):
        DLoRLinear(7, 5, 2).load_state_dict(a.state_dict())


def test_huge_layer_forward_backward():
    """100k x 100k at rank 4: a dense weight would need 40 GB; this needs ~3 MB."""
    n = 100_000
    layer = DLoRLinear(n, n, rank=4)
    x = torch.randn(8, n)
    y = layer(x)
    assert y.shape == (8, n)
    y.square().mean().backward()
    assert layer.U.grad.shape == (n, 4) and torch.isfinite(layer.V.grad).all()
    assert layer.num_params == 1 + 4 * 2 * n + n
    # spot-check a few outputs against the definition
    i = torch.tensor([0, 12345, n - 1])
    ref = layer.alpha * x[:, i] + (x @ layer.V) @ layer.U[i].T + layer.bias[i]
    torch.testing.assert_close(y[:, i], ref.detach(), **tol("layer", torch.float32))


@pytest.mark.parametrize(
    "kwargs,msg",
    [
        ({"in_features": 0, "out_features": 3, "rank": 1}, "in_features"),
        ({"in_features": 3, "out_features": 3, "rank": 0}, "rank"),
        ({"in_features": 3, "out_features": 3, "rank": 1.5}, "rank"),
    ],
)
def test_bad_construction(kwargs, msg):
    with pytest.raises(dlor.DLoRError, match=msg):
        DLoRLinear(**kwargs)


@pytest.mark.parametrize("n,m,r", [(6, 6, 2), (4, 7, 3), (7, 4, 2), (5, 5, 1)])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_backward_gradcheck_and_double_backward(n, m, r, bias):
    """The hand-written backward of dlor_linear against finite differences, twice."""
    g = torch.Generator().manual_seed(n * 100 + m * 10 + r)
    make = lambda *s: torch.randn(*s, dtype=torch.float64, generator=g).requires_grad_()  # noqa: E731
    x, alpha, U, V = make(3, n), make(()), make(m, r), make(n, r)
    b = make(m) if bias else None
    inputs = (x, alpha, U, V) + ((b,) if bias else ())
    fn = lambda x, a, U, V, *b: dlor.dlor_linear(x, a, U, V, b[0] if b else None)  # noqa: E731
    assert torch.autograd.gradcheck(fn, inputs)
    assert torch.autograd.gradgradcheck(fn, inputs)


def test_fused_backward_equals_dense_reference():
    layer = DLoRLinear(9, 9, 3, dtype=torch.float64)
    x = torch.randn(4, 5, 9, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 5, 9, dtype=torch.float64)
    grads = torch.autograd.grad((layer(x) * w).sum(), [x, *layer.parameters()])
    M = layer.alpha * torch.eye(9, dtype=torch.float64) + layer.U @ layer.V.T
    ref = torch.autograd.grad(((x @ M.T + layer.bias) * w).sum(), [x, *layer.parameters()])
    for a, b in zip(grads, ref, strict=True):
        torch.testing.assert_close(a, b, **tol("grad", torch.float64))


@pytest.mark.parametrize("n,m", [(9, 9), (6, 9), (9, 6)])
def test_fused_backward_of_an_expanded_gradient_equals_dense_reference(n, m):
    """y.sum() sends an expanded (stride-0) gradient; the backward reuses its own contiguous copy
    of it as dL/dx's buffer when m == n. Every gradient, dL/dx included, against the dense map."""
    layer = DLoRLinear(n, m, 3, dtype=torch.float64)
    x = torch.randn(4, n, dtype=torch.float64, requires_grad=True)
    grads = torch.autograd.grad(layer(x).sum(), [x, *layer.parameters()])
    W = layer.weight
    ref = torch.autograd.grad((x @ W.T + layer.bias).sum(), [x, *layer.parameters()])
    for a, b in zip(grads, ref, strict=True):
        torch.testing.assert_close(a, b, **tol("grad", torch.float64))


@pytest.mark.parametrize("n,m", [(6, 6), (4, 6), (6, 4)])
def test_jacrev_in_x_is_the_dense_weight(n, m):
    """jacrev of the layer in x is its dense weight I_{m x n} alpha + U V^T."""
    from torch.func import functional_call, jacrev

    torch.manual_seed(0)
    layer = DLoRLinear(n, m, 2, dtype=torch.float64)
    params = {k: v.detach() for k, v in layer.named_parameters()}
    x = torch.randn(5, n, dtype=torch.float64)
    J = jacrev(lambda v: functional_call(layer, params, (v,)))(x[0])
    torch.testing.assert_close(J, layer.weight.detach(), **tol("layer", torch.float64))


@pytest.mark.parametrize(
    "x,match",
    [
        (torch.randn(2, 7), "8 input features"),
        (torch.tensor(1.0), "8 input features"),
        (torch.ones(2, 8, dtype=torch.long), "dtype torch.int64"),
        (torch.randn(2, 8, dtype=torch.float64), "convert one to the other"),
    ],
)
def test_bad_input_names_the_problem(x, match):
    with pytest.raises(dlor.DLoRError, match=match):
        DLoRLinear(8, 6, 2)(x)


@pytest.mark.parametrize(("m", "n", "r"), [(6, 6, 2), (4, 7, 3), (7, 4, 0)])
def test_from_dlor_holds_the_matrix_it_was_given(m, n, r):
    M = dlor.DLoR(0.7, torch.randn(m, r, dtype=torch.float64), torch.randn(n, r, dtype=torch.float64))
    layer = DLoRLinear.from_dlor(M)
    x = torch.randn(5, n, dtype=torch.float64)
    torch.testing.assert_close(layer(x), x @ M.to_dense().T, **tol("layer", torch.float64))
    assert layer.bias is None and layer.rank == max(r, 1)
