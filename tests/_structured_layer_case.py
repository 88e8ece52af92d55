"""One set of checks for every structured layer, in the manner of linear_operator's test case.

A subclass supplies ``create(dtype)`` (the module under test) and ``dense_reference(module, x)``
(what it must equal, computed from dense matrices) and inherits: equality with the reference in
float64 and float32, gradients equal to the reference's, gradcheck, ``torch.autocast`` (bfloat16
on the CPU, as ``nn.Linear`` runs there), ``torch.compile`` and ``torch.func`` (``grad`` and
``vmap``). A class attribute switches off a check that does not apply, with the reason beside it.
"""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call, grad, vmap

from tests.tolerances import tol


class StructuredLayerCase:
    in_features: int = 6
    batch: int = 5
    supports_autocast: bool = True
    supports_torch_func: bool = True
    compile_fullgraph: bool = True  # False where Dynamo breaks the graph (it still must match eager)

    def create(self, dtype: torch.dtype) -> torch.nn.Module:
        raise NotImplementedError

    def dense_reference(self, module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _input(self, dtype, requires_grad: bool = False) -> torch.Tensor:
        g = torch.Generator().manual_seed(1)
        return torch.randn(self.batch, self.in_features, generator=g, dtype=dtype).requires_grad_(requires_grad)

    @pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
    def test_forward_equals_the_dense_reference(self, dtype):
        torch.manual_seed(0)
        module = self.create(dtype)
        x = self._input(dtype)
        with torch.no_grad():
            torch.testing.assert_close(module(x), self.dense_reference(module, x), **tol("layer", dtype))

    def test_gradients_equal_the_dense_reference(self):
        torch.manual_seed(0)
        module = self.create(torch.float64)
        x = self._input(torch.float64, requires_grad=True)
        params = [x, *module.parameters()]
        w = torch.randn_like(module(x))
        got = torch.autograd.grad((module(x) * w).sum(), params)
        want = torch.autograd.grad((self.dense_reference(module, x) * w).sum(), params)
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, **tol("grad", torch.float64))

    def test_gradcheck(self):
        torch.manual_seed(0)
        module = self.create(torch.float64)
        names = [n for n, _ in module.named_parameters()]
        values = [p.detach().clone().requires_grad_() for p in module.parameters()]
        x = self._input(torch.float64, requires_grad=True)[:2]

        def f(x, *p):
            return functional_call(module, dict(zip(names, p, strict=True)), (x,))

        assert torch.autograd.gradcheck(f, (x, *values))

    def test_autocast_bfloat16_is_close_to_the_float32_reference(self):
        if not self.supports_autocast:
            pytest.skip("not meaningful for this module (see the subclass)")
        torch.manual_seed(0)
        module = self.create(torch.float32)
        x = self._input(torch.float32, requires_grad=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = module(x)
        assert y.dtype == torch.bfloat16
        ref = self.dense_reference(module, x)
        torch.testing.assert_close(y.float(), ref.detach(), **tol("layer", torch.bfloat16))
        grads = torch.autograd.grad(y.float().sum(), list(module.parameters()))
        assert all(g.dtype == torch.float32 and bool(torch.isfinite(g).all()) for g in grads)

    def test_torch_compile_matches_eager(self):
        torch.manual_seed(0)
        module = self.create(torch.float32)
        compiled = torch.compile(module, fullgraph=self.compile_fullgraph)
        x = self._input(torch.float32, requires_grad=True)
        out, want = compiled(x), module(x)
        torch.testing.assert_close(out, want, **tol("layer", torch.float32))
        params = [x, *module.parameters()]
        got = torch.autograd.grad(out.square().sum(), params)
        ref = torch.autograd.grad(want.square().sum(), params)
        for a, b in zip(got, ref, strict=True):
            torch.testing.assert_close(a, b, **tol("grad", torch.float32))

    def test_torch_func_grad_and_per_sample_vmap(self):
        if not self.supports_torch_func:
            pytest.skip("torch.func does not support this module (see the subclass)")
        torch.manual_seed(0)
        module = self.create(torch.float64)
        params = {k: v.detach() for k, v in module.named_parameters()}
        x = self._input(torch.float64)

        def loss(p, xb):
            return functional_call(module, p, (xb,)).square().sum()

        got = grad(loss)(params, x)
        want = torch.autograd.grad(loss(dict(module.named_parameters()), x), list(module.parameters()))
        for k, w in zip(params, want, strict=True):
            torch.testing.assert_close(got[k], w, **tol("grad", torch.float64))
        per_sample = vmap(grad(loss), in_dims=(None, 0))(params, x[:, None])
        for i in range(2):
            one = grad(loss)(params, x[i : i + 1])
            for k in params:
                torch.testing.assert_close(per_sample[k][i], one[k], **tol("grad", torch.float64))
