"""SparseLowRankLinear (dlor.nn) against the dense layer it represents: S + U V^T."""

import pytest
import torch

from dlor import DLoRError
from dlor.nn import SparseLowRankLinear
from tests._structured_layer_case import StructuredLayerCase
from tests.tolerances import tol


class TestSparseLowRankLinear(StructuredLayerCase):
    in_features = 7
    compile_fullgraph = False  # Dynamo does not trace sparse CSR tensors: a graph break, still equal to eager
    # torch.func's transforms cannot wrap a sparse CSR tensor ("Sparse CSR tensors do not have strides")
    supports_torch_func = False

    def create(self, dtype):
        return SparseLowRankLinear(self.in_features, 5, 2, 0.3, dtype=dtype)

    def dense_reference(self, layer, x):
        return x @ layer.weight.T + layer.bias  # weight: the sparse part as a dense matrix plus U V^T


class TestSparseLowRankLinearDenseProduct(StructuredLayerCase):
    """The same layer applied through its dense weight (``product="dense"``)."""

    in_features = 7

    def create(self, dtype):
        return SparseLowRankLinear(self.in_features, 5, 2, 0.3, dtype=dtype, product="dense")

    def dense_reference(self, layer, x):
        return x @ layer.weight.T + layer.bias


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_both_products_give_the_same_outputs_and_gradients(dtype):
    torch.manual_seed(0)
    sparse = SparseLowRankLinear(12, 9, 3, 0.2, dtype=dtype)
    dense = SparseLowRankLinear(12, 9, 3, 0.2, dtype=dtype, product="dense")
    dense.load_state_dict(sparse.state_dict())
    x = torch.randn(4, 5, 12, dtype=dtype)
    ys, yd = sparse(x), dense(x)
    torch.testing.assert_close(yd, ys, **tol("layer", dtype))
    g = torch.randn_like(ys)
    ys.backward(g)
    yd.backward(g)
    for a, b in zip(sparse.parameters(), dense.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, **tol("layer", dtype))


def test_an_unknown_product_is_refused():
    with pytest.raises(DLoRError, match="unknown product 'csr'.*sparse, dense"):
        SparseLowRankLinear(4, 4, 1, 0.5, product="csr")


@pytest.mark.parametrize("product", ["sparse", "dense"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n,m,r,density", [(8, 8, 2, 0.3), (6, 10, 1, 0.5), (12, 4, 3, 0.05)])
def test_sparse_lowrank_matches_dense(n, m, r, density, dtype, product):
    layer = SparseLowRankLinear(n, m, r, density, dtype=dtype, product=product)
    x = torch.randn(2, 3, n, dtype=dtype)
    torch.testing.assert_close(layer(x), x @ layer.weight.T + layer.bias, **tol("layer", dtype))
    assert layer.values.numel() == max(1, round(density * m * n))
    assert layer.num_params == layer.values.numel() + r * (m + n) + m
    assert int((layer.sparse.to_dense() != 0).sum()) <= layer.values.numel()


def test_sparse_lowrank_under_autocast_and_in_bfloat16():
    """torch's CPU sparse CSR product has no 16-bit kernels: under autocast, and with bfloat16
    parameters, the sparse part runs in float32 and the layer still returns the 16-bit dtype."""
    torch.manual_seed(0)
    layer = SparseLowRankLinear(16, 12, 3, 0.3)
    x = torch.randn(5, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), (x @ layer.weight.T + layer.bias).detach(), **tol("layer", torch.bfloat16))
    y.float().sum().backward()
    assert layer.values.grad.dtype == torch.float32 and torch.isfinite(layer.values.grad).all()
    half = SparseLowRankLinear(16, 12, 3, 0.3, dtype=torch.bfloat16)
    xb = torch.randn(5, 16, dtype=torch.bfloat16)
    yb = half(xb)
    assert yb.dtype == torch.bfloat16
    ref = xb.float() @ half.weight.float().T + half.bias.float()
    torch.testing.assert_close(yb.float(), ref.detach(), **tol("layer", torch.bfloat16))
