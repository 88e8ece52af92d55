r"""Compile a pure tensor function with TorchInductor, without TorchDynamo at call time.

The trainer's epoch is a few calls of pure functions (state tensors in, state tensors out) on
tiny tensors, tens of thousands of times per group. Through ``torch.compile`` every call pays
Dynamo's frame evaluation, cache lookup and guard checks and AOTAutograd's runtime wrapper: about
70-100 us a call, a fifth of an epoch of a deep k=8 group (measured, one thread, 10 models,
batch 32). ``compile_pure`` traces the function once to an ATen graph with
``torch.fx.experimental.proxy_tensor.make_fx`` (which traces through ``torch.func`` transforms)
and hands that graph to ``torch._inductor.compile``, the entry point for graphs captured without
Dynamo. A call then runs Inductor's wrapper and kernel only.

What Dynamo's guards did is kept where it matters: a compiled graph is specialised to the shapes,
strides, dtypes and devices of the tensors it was traced with, so each call looks up its graph
by that signature and traces a new one for a signature not seen before. Non-tensor arguments are
part of the signature and become constants of the graph (the trainer passes ``None`` for an
unused argument).

``torch._inductor.compile`` has a leading underscore: PyTorch does not promise to keep it. torch
is pinned (``constraints.txt``), the tests compare the compiled trainer with a plain
``torch.optim`` loop, and a graph that fails to compile leaves the trainer running eagerly with
a warning (``GroupTrainer._run_step``), so a change in it shows as a failing test or a slower
run, never as a silently different result.
"""

from __future__ import annotations

import importlib
import warnings

import torch
from torch.fx.experimental.proxy_tensor import get_proxy_mode, make_fx

__all__ = ["compile_pure"]


def _signature(args) -> tuple:
    return tuple((a.shape, a.stride(), a.dtype, a.device) if isinstance(a, torch.Tensor) else a for a in args)


def _compile_for(fn, args):
    """Inductor's compilation of ``fn`` as a function of the tensors among ``args`` (the other
    arguments become constants of the graph)."""
    where = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
    tensors = [args[i] for i in where]

    def of_tensors(*ts):
        full = list(args)
        for i, t in zip(where, ts, strict=True):
            full[i] = t
        return fn(*full)

    with torch.no_grad():
        traced = make_fx(of_tensors)(*tensors)
    with warnings.catch_warnings():  # torch's own import-time warning (torch.utils.mkldnn)
        warnings.filterwarnings("ignore", message=".*torch.jit.script_method.*", category=DeprecationWarning)
        importlib.import_module("torch._inductor.compile_fx")
    return torch._inductor.compile(traced, tensors)


def compile_pure(fn, name: str):
    """``fn`` compiled on its first call per input signature (see the module docstring).

    ``fn`` must be pure: its outputs depend only on its tensor arguments and it mutates none of
    them. ``name`` names the returned function. Inside the tracing of another compiled function
    the call is traced inline, so compiled functions may call each other.
    """
    graphs: dict[tuple, object] = {}

    def call(*args):
        if get_proxy_mode() is not None:  # being traced as part of a larger graph
            return fn(*args)
        key = _signature(args)
        graph = graphs.get(key)
        if graph is None:
            graph = graphs[key] = _compile_for(fn, args)
        return graph(*(a for a in args if isinstance(a, torch.Tensor)))

    call.__name__ = call.__qualname__ = f"dlor_{name}"
    call.graphs = graphs  # type: ignore[attr-defined]  # the compiled graphs, for the tests
    return call
