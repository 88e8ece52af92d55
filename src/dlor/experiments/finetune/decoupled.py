r"""Decoupled optimisation (Appendix G): fine-tuning the DLoR components of a pretrained network
independently, one component set per process, against fine-tuning them jointly.

Every targeted projection ``W`` of the source model (attention q, k, v, out; MLP up, down) is
replaced by an exact DLoR form of itself:

* ``additive``: ``W = sum_l M_l`` ([`additive_decompose`][dlor.additive_decompose], the linear
  reconstruction of Theorem 3), ``L = min(m, n) / rank`` components;
* ``multiplicative``: ``W = M_L ... M_1`` ([`multiplicative_decompose`][dlor.multiplicative_decompose],
  Theorem 4; a rectangular ``W`` embedded by Remark 2), ``L = max(m, n) / rank`` factors.

The components of every projection are split into two sets (the first half of ``l`` and the
second). **Joint**: one process trains both sets. **Independent**: two processes under
``torchrun --nproc_per_node 2`` each train one set, the other frozen at its start, for the same
steps at the same rate; then the trained sets are gathered and combined. For the additive form
the two updates add (``Delta W = Delta_0 + Delta_1``); for the multiplicative form each set's
update was learned with the other set's factors at their start, so combining them is a guess the
math does not back. **LoRA** at equal trainable parameters (rank ``min(m, n)``) is the reference.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
from torch import nn

from ...decompose import additive_decompose, embed_square
from ...nn import DLoRChain, DLoRLinear
from .methods import Schedule, finetune, loss_on

SCHEMES = ("additive", "multiplicative")
TARGETS = ("q", "k", "v", "out", "up", "down")


class AdditiveDLoR(nn.Module):
    """``y = sum_l M_l x``: a weight as the sum of its DLoR components (no bias)."""

    def __init__(self, W: torch.Tensor, rank: int):
        super().__init__()
        m, n = W.shape
        self.in_features, self.out_features = n, m
        self.factors = nn.ModuleList()
        for M in additive_decompose(W.detach().double(), rank):
            self.factors.append(DLoRLinear.from_dlor(M, dtype=W.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.factors[0](x)
        for f in self.factors[1:]:
            out = out + f(x)
        return out


def decomposed(source: nn.Module, scheme: str, rank: int) -> nn.Module:
    """A copy of ``source`` whose targeted projections are exact DLoR forms of themselves; every
    other parameter frozen."""
    from ...decompose import multiplicative_decompose

    model = copy.deepcopy(source)
    for p in model.parameters():
        p.requires_grad_(False)
    blocks = model.get_submodule("blocks")
    assert isinstance(blocks, nn.ModuleList)  # a dlor.lm GPT
    for block in blocks:
        for owner, name in [(block.attn, n) for n in ("q", "k", "v", "out")] + [(block.mlp, n) for n in ("up", "down")]:
            lin = getattr(owner, name)
            W = lin.weight.detach()
            if scheme == "additive":
                new: nn.Module = AdditiveDLoR(W, rank)
            else:
                Wsq = embed_square(W.double()) if W.shape[0] != W.shape[1] else W.double()
                factors = [M.to(dtype=W.dtype) for M in multiplicative_decompose(Wsq, rank)]
                new = DLoRChain(factors, lin.in_features, lin.out_features, None)
            setattr(owner, name, new)
    return model


def _components(model: nn.Module):
    """``(parameter-name prefix, factor, set)`` of every DLoR component of the decomposed model: set
    0 holds the first half of each projection's components, set 1 the second."""
    for name, module in model.named_modules():
        if isinstance(module, (AdditiveDLoR, DLoRChain)):
            L = len(module.factors)
            for l, f in enumerate(module.factors):
                yield f"{name}.factors.{l}", f, 0 if l < max(1, L // 2) else 1


def component_set(model: nn.Module, which: int | None) -> list[nn.Parameter]:
    """The parameters of component set ``which`` (0, 1, or None for both), made trainable; the rest frozen."""
    chosen = []
    for _, f, s in _components(model):
        mine = which is None or s == which
        for p in f.parameters():
            p.requires_grad_(mine)
            if mine:
                chosen.append(p)
    return chosen


def set_state(model: nn.Module, which: int) -> dict[str, torch.Tensor]:
    """The trained tensors of component set ``which``, by parameter name."""
    return {
        f"{prefix}.{p}": value.detach().clone()
        for prefix, f, s in _components(model)
        if s == which
        for p, value in f.named_parameters()
    }


def _worker(args: argparse.Namespace) -> None:
    """One process of the independent run: train its set, gather both, combine and evaluate (rank 0)."""
    import torch.distributed as dist

    from ...lm import load_corpus, load_model
    from .data import load_target

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.set_num_threads(1)
    spec = json.loads(Path(args.spec).read_text())
    sched = Schedule(**spec["schedule"])
    source = load_model(spec["source"])
    target = load_target(spec["target"], spec["max_bytes"])
    model = decomposed(source, spec["scheme"], spec["rank"])
    component_set(model, rank)
    start = time.perf_counter()
    _, finite = finetune(model, target.train, sched, spec["lr"], spec["seed"])
    seconds = time.perf_counter() - start
    gathered: list = [None, None]
    dist.all_gather_object(gathered, (set_state(model, rank), seconds, finite))
    if rank == 0:
        combined = decomposed(source, spec["scheme"], spec["rank"])
        with torch.no_grad():
            params = dict(combined.named_parameters())
            for state, _, _ in gathered:
                for name, value in state.items():
                    params[name].copy_(value)
        rec = {
            "seconds_per_process": [g[1] for g in gathered],
            "finite": all(g[2] for g in gathered),
            "val_loss": loss_on(combined, target.val, sched),
            "test_loss": loss_on(combined, target.test, sched, offset=10**6),
            "source_loss": loss_on(combined, load_corpus().val, sched, offset=2 * 10**6),
        }
        Path(args.out).write_text(json.dumps(rec))
    dist.barrier()
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description="one independent decoupled run (under torchrun --nproc_per_node 2)")
    parser.add_argument("--spec", required=True, help="a JSON file: source, target, scheme, rank, lr, seed, schedule")
    parser.add_argument("--out", required=True, help="rank 0 writes the combined model's losses here (JSON)")
    _worker(parser.parse_args())


def independent(spec: dict, folder: Path) -> dict:
    """Run one independent fine-tuning under ``torchrun --nproc_per_node 2`` and return its record."""
    import subprocess

    from .._launch import loopback_env, torchrun_command

    folder.mkdir(parents=True, exist_ok=True)
    spec_path, out = folder / "spec.json", folder / "result.json"
    spec_path.write_text(json.dumps(spec))
    env = loopback_env()
    cmd = torchrun_command(2, "-m", "dlor.experiments.finetune.decoupled", "--spec", str(spec_path), "--out", str(out))
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        from ..._errors import DLoRError

        raise DLoRError(f"finetune: the torchrun of an independent decoupled run failed: {' / '.join(tail)}")
    return json.loads(out.read_text()) | {"wall_seconds": wall}


if __name__ == "__main__":
    main()
