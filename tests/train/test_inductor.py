"""compile_pure: Inductor without Dynamo at call time, one graph per input signature."""

import torch

from dlor.train._inductor import compile_pure
from tests.tolerances import tol


def _step(w, g, x, scale):
    """A small pure function of the trainer's kind: a gradient and an update."""
    grad, loss = torch.func.grad_and_value(lambda v: (torch.nn.functional.softplus(x @ v) ** 2).mean())(w)
    return w - scale * grad, loss + g.sum()


def test_compiled_equals_eager_and_keys_graphs_by_signature():
    compiled = compile_pure(lambda w, g, x, extra: _step(w, g, x, 0.1 if extra is None else extra), "t")
    gen = torch.Generator().manual_seed(0)
    w, g = torch.randn(5, dtype=torch.float64, generator=gen), torch.randn(3, dtype=torch.float64, generator=gen)
    for rows in (7, 7, 4):
        x = torch.randn(rows, 5, dtype=torch.float64, generator=gen)
        for got, want in zip(compiled(w, g, x, None), _step(w, g, x, 0.1), strict=True):
            torch.testing.assert_close(got, want, **tol("grad", torch.float64))
    assert len(compiled.graphs) == 2  # rows 7 compiled once, rows 4 again
    x = torch.randn(7, 5, dtype=torch.float64, generator=gen)
    for got, want in zip(compiled(w, g, x, 0.5), _step(w, g, x, 0.5), strict=True):  # a non-tensor argument
        torch.testing.assert_close(got, want, **tol("grad", torch.float64))
    assert len(compiled.graphs) == 3
    strided = torch.randn(5, 14, dtype=torch.float64, generator=gen)[:, ::2].T  # same shape, other strides
    for got, want in zip(compiled(w, g, strided, None), _step(w, g, strided, 0.1), strict=True):
        torch.testing.assert_close(got, want, **tol("grad", torch.float64))
    assert len(compiled.graphs) == 4


def test_compiled_functions_may_call_each_other():
    inner = compile_pure(lambda w, g, x: _step(w, g, x, 0.1), "inner")
    outer = compile_pure(lambda w, g, x: inner(*inner(w, g, x), x), "outer")
    w, g, x = torch.randn(5), torch.randn(()), torch.randn(6, 5)
    want = _step(*_step(w, g, x, 0.1), x, 0.1)
    for got, ref in zip(outer(w, g, x), want, strict=True):
        torch.testing.assert_close(got, ref, **tol("grad", torch.float32))
    assert len(inner.graphs) == 0  # traced inline into outer's graph, never compiled alone
