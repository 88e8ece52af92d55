r"""Data-parallel training of dlorized models with PyTorch's own ``DistributedDataParallel``.

Run on one machine with N processes (gloo on CPU, nccl on GPU)::

    torchrun --nproc_per_node=2 -m dlor.train.ddp --steps 200 --rank 8 --out model.safetensors

and on several machines with torchrun's usual ``--nnodes/--node_rank/--rdzv_endpoint``. Without
torchrun it runs as a single process. Each step draws one global batch (the same on every
process, from a generator seeded by ``seed`` and the step) and every process takes an equal,
contiguous slice of it; DDP averages the gradients, so the parameters after each step equal
those of a single process on the whole global batch (the tests check this).
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist
from torch import nn

from .._errors import DLoRError

__all__ = ["train_data_parallel", "digits_mlp", "main", "process_rank_and_world"]


def process_rank_and_world() -> tuple[int, int]:
    """``(rank, world size)`` of the initialised process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train_data_parallel(
    model: nn.Module, X: torch.Tensor, Y: torch.Tensor, steps: int, lr: float = 1e-2, global_batch: int = 256, seed: int = 0
) -> nn.Module:
    """Adam on cross-entropy for ``steps`` steps; wraps ``model`` in DDP when a process group exists."""
    rank, world = process_rank_and_world()
    if global_batch % world:
        raise DLoRError(f"global_batch = {global_batch} must be divisible by the number of processes ({world})")
    local = global_batch // world
    device = next(model.parameters()).device
    net = (
        nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if world > 1
        else model
    )
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for step in range(steps):
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        idx = torch.randperm(X.shape[0], generator=g)[:global_batch][rank * local : (rank + 1) * local]
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(net(X[idx].to(device)), Y[idx].to(device))
        loss.backward()
        opt.step()
    return model


def digits_mlp(rank: int, width: int = 64, dtype=torch.float32) -> nn.Module:
    """A 64 -> width -> width -> 10 ReLU MLP whose two hidden layers are dlorized (init "random")."""
    from ..nn import dlorize

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10)).to(dtype)
    dlorize(model, rank, include=["0", "2"])
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--batch", type=int, default=256, help="global batch size")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--out", default=None, help="checkpoint written by process 0 (.safetensors or .pt)")
    args = parser.parse_args(argv)
    from sklearn.datasets import load_digits

    from ..nn import save_checkpoint

    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    device = torch.device("cpu")
    if distributed:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        dist.init_process_group(backend)
    dtype = getattr(torch, args.dtype)
    digits = load_digits()
    X = torch.tensor(digits.data / 16.0, dtype=dtype)
    Y = torch.tensor(digits.target, dtype=torch.long)
    model = digits_mlp(args.rank, dtype=dtype).to(device)
    train_data_parallel(model, X, Y, args.steps, args.lr, args.batch)
    rank, world = process_rank_and_world()
    if rank == 0:
        with torch.no_grad():
            acc = (model(X.to(device)).argmax(1).cpu() == Y).float().mean()
        print(f"processes: {world}; steps: {args.steps}; training accuracy {float(acc):.3f}")
        if args.out:
            save_checkpoint(model, args.out)
    if distributed:
        # every process finishes its work before any tears gloo down: a process that destroyed
        # its group while process 0 was still saving was seen to abort in gloo's teardown
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
