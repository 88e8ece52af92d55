"""``python -m dlor.lm``: train one byte-level GPT, on one process or under ``torchrun`` (see :mod:`dlor.lm.trainer`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from .._device import check_device
from .._errors import DLoRError
from .._options import MAX_SEED, OneLineParser, bounded_float, bounded_int, check_memory, check_output_folder, check_output_path
from ..train.ddp import process_rank_and_world
from .data import load_corpus
from .model import VARIANTS, GPTConfig
from .saved import check_model_path, save_model
from .trainer import TrainSettings, train


def _error(err: DLoRError) -> int:
    """One line on stderr, exit status 2."""
    print(f"dlor.lm: error: {' '.join(str(err).split())}", file=sys.stderr)
    return 2


def _save_or_rescue(model, path: str):
    """Save the trained ``model`` to ``path``; when that fails after all (the disk filled, the folder
    went away), save it to a file in the temporary folder instead and say where, so that the
    finished training is not lost. Returns the path written, or None when both failed."""
    import tempfile

    try:
        return save_model(model, path)
    except OSError as err:
        rescue = os.path.join(tempfile.gettempdir(), f"dlor-lm-rescued-{os.getpid()}.safetensors")
        try:
            save_model(model, rescue)
        except OSError as err2:
            print(f"dlor.lm: error: could not save the model to {path} ({err.strerror}) nor to {rescue} "
                  f"({err2.strerror})", file=sys.stderr)
            return None
        print(f"dlor.lm: note: could not save the model to {path} ({err.strerror}); saved it to {rescue} instead",
              file=sys.stderr)
        return Path(rescue)


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m dlor.lm", description=__doc__.split("\n")[0])
    p.add_argument("--variant", default="dlor", help=f"one of {', '.join(VARIANTS)}")
    p.add_argument("--steps", type=bounded_int(1, 10**8), default=200)
    p.add_argument("--batch", type=bounded_int(1, 10**6), default=16, help="global batch (windows per step)")
    p.add_argument("--block", type=bounded_int(1, 2**20), default=64)
    p.add_argument("--n-layer", type=bounded_int(1, 1024), default=2)
    p.add_argument("--n-head", type=bounded_int(1, 4096), default=4)
    p.add_argument("--n-embd", type=bounded_int(1, 2**20), default=128)
    p.add_argument("--rank", type=bounded_int(1, 2**20), default=16)
    p.add_argument("--density", type=bounded_float(0.0, 1.0), default=None)
    p.add_argument("--lr", type=bounded_float(0.0, 10.0), default=1e-3)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--seed", type=bounded_int(0, MAX_SEED), default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda (under torchrun: cuda:LOCAL_RANK)")
    p.add_argument("--run-dir", default=None, help="resumable checkpoints here")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--corpus", nargs="+", default=None, metavar="FILE",
                   help="text files to train on (default: the Shakespeare corpus, see dlor.lm.data)")
    p.add_argument("--out", default=None,
                   help="final model and its config, written by process 0 (.safetensors; see python -m dlor.lm.sample)")
    args = p.parse_args(argv)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    try:
        if args.out is not None:  # before training, not after it
            check_model_path(check_output_path(args.out))
        if args.run_dir is not None:
            check_output_folder(args.run_dir, option="--run-dir")
        # weights, gradients and two AdamW moments (4 copies), float32 or float64
        per_value = 4 * (8 if args.dtype == "float64" else 4)
        check_memory("--n-embd / --n-layer", per_value * args.n_layer * 12.0 * args.n_embd**2)
        # the activations autograd keeps: about 16 (batch, block, n_embd) tensors per layer
        check_memory("--batch / --block", per_value / 4 * 16.0 * args.n_layer * args.batch * args.block * args.n_embd)
        device = check_device(args.device, option="--device")
        if distributed and device.type == "cuda":  # one GPU per process: cuda:LOCAL_RANK
            device = check_device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}", option="--device")
    except DLoRError as err:
        return _error(err)
    if distributed:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        cfg = GPTConfig(variant=args.variant, n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd,
                        block_size=args.block, rank=args.rank, density=args.density)
        s = TrainSettings(steps=args.steps, batch_size=args.batch, lr=args.lr, dtype=args.dtype, seed=args.seed,
                          eval_every=max(1, args.steps // 4), eval_batches=2)
        rec = train(cfg, s, load_corpus(args.corpus), device=device, run_dir=args.run_dir, compile=args.compile)
    except DLoRError as err:
        if distributed:
            dist.destroy_process_group()
        return _error(err)
    rank, world = process_rank_and_world()
    if rank == 0:
        print(f"processes: {world}; variant {cfg.variant}; params {rec['params']:,}; "
              f"validation {rec['val_loss']:.4f} nats/byte ({rec['val_bits_per_byte']:.4f} bits/byte)")
        if args.out:
            out = _save_or_rescue(rec["model"], args.out)
            if out is None:
                return 1
            print(f"saved to {out}; sample it with: python -m dlor.lm.sample --model {out}")
    if distributed:
        dist.barrier()  # every process finishes (process 0 saves) before any tears gloo down
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
