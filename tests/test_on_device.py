"""The library on one device against the float64 CPU reference: the tests that ``make gpu-check``
runs on a GPU (``pytest -m device`` with ``DLOR_TEST_DEVICE=cuda``). Here they run on the CPU."""

import os

import pytest
import torch

import dlor
from dlor.nn import DLoRLinear
from dlor.train import GroupSpec, GroupTrainer, TrainConfig
from tests.tolerances import RECONSTRUCTION, tol

pytestmark = pytest.mark.device


@pytest.fixture
def device() -> torch.device:
    from dlor._device import check_device

    return check_device(os.environ.get("DLOR_TEST_DEVICE", "cpu"))


def test_dlor_matrix_products_and_solve_match_the_dense_reference(device):
    M = dlor.DLoR(1.3, torch.randn(96, 6, dtype=torch.float64), torch.randn(96, 6, dtype=torch.float64))
    x = torch.randn(96, 4, dtype=torch.float64)
    on = M.to(device)
    dense = M.to_dense()
    torch.testing.assert_close((on @ x.to(device)).cpu(), dense @ x, **tol("matmul", torch.float64))
    torch.testing.assert_close(on.solve(x.to(device)).cpu(), torch.linalg.solve(dense, x), **tol("solve", torch.float64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_layer_forward_and_backward_match_the_dense_reference(device, dtype):
    torch.manual_seed(0)
    layer = DLoRLinear(48, 32, rank=5, dtype=torch.float64)
    x = torch.randn(7, 48, dtype=torch.float64, requires_grad=True)
    reference = x @ layer.weight.T + layer.bias
    reference.sum().backward()
    grad_ref = x.grad.clone()
    on = DLoRLinear(48, 32, rank=5, dtype=dtype, device=device)
    on.load_state_dict({k: v.to(dtype) for k, v in layer.state_dict().items()})
    x_on = x.detach().to(device, dtype).requires_grad_(True)
    y = on(x_on)
    y.sum().backward()
    torch.testing.assert_close(y.detach().cpu().double(), reference.detach(), **tol("layer", dtype))
    torch.testing.assert_close(x_on.grad.cpu().double(), grad_ref, **tol("grad", dtype))


def test_the_multiplicative_decomposition_reconstructs_on_the_device(device):
    torch.manual_seed(0)
    W = torch.randn(40, 40, dtype=torch.float64, device=device)
    factors = dlor.multiplicative_decompose(W, rank=4)
    product = torch.eye(40, dtype=torch.float64, device=device)
    for M in factors:
        product = M @ product
    assert (torch.linalg.norm(product - W) / torch.linalg.norm(W)).item() <= RECONSTRUCTION[torch.float64]


def test_the_trainer_on_the_device_follows_the_cpu_run(device):
    x = torch.linspace(-2, 2, 40, dtype=torch.float64)[:, None]
    y = (x * 3.7 % 2 - 1).abs()
    spec, cfg = GroupSpec("deep", 2, None, [0, 1]), TrainConfig(epochs=30, eval_epochs=(), checkpoint_every=10**9)
    runs = [GroupTrainer(spec, cfg, device=d).run(x, y, x, y) for d in ("cpu", device)]
    cpu, on = ([r["train_mse_final"] for r in rows] for rows in runs)
    torch.testing.assert_close(torch.tensor(on), torch.tensor(cpu), rtol=1e-6, atol=1e-9)
