"""``dlor lm train`` and ``dlor lm sample``: train one byte-level GPT (on one process or under
``torchrun -m dlor lm train``), and sample text from a saved one (see [`dlor.lm`][dlor.lm]).

    dlor lm train --variant dlor --steps 2000 --out gpt.safetensors
    dlor lm sample --model gpt.safetensors --prompt "ROMEO:" --tokens 300 --top-k 40
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .._errors import DLoRError
from .._options import MAX_SEED, bounded_float, bounded_int, check_memory, check_output_folder, check_output_path


def add_parser(sub) -> None:
    p = sub.add_parser("lm", help="train a byte-level GPT (dense, low-rank, DLoR, sparse+low-rank) or sample one")
    lm = p.add_subparsers(dest="lm_command", required=True)
    train = lm.add_parser("train", help="train one GPT; under torchrun, data-parallel over the processes")
    train.add_argument("--variant", default="dlor", help="dense, lowrank, dlor or sparse+lowrank")
    train.add_argument("--steps", type=bounded_int(1, 10**8), default=200)
    train.add_argument("--batch", type=bounded_int(1, 10**6), default=16, help="global batch (windows per step)")
    train.add_argument("--block", type=bounded_int(1, 2**20), default=64)
    train.add_argument("--n-layer", type=bounded_int(1, 1024), default=2)
    train.add_argument("--n-head", type=bounded_int(1, 4096), default=4)
    train.add_argument("--n-embd", type=bounded_int(1, 2**20), default=128)
    train.add_argument("--rank", type=bounded_int(1, 2**20), default=16)
    train.add_argument("--density", type=bounded_float(0.0, 1.0), default=None)
    train.add_argument("--lr", type=bounded_float(0.0, 10.0), default=1e-3)
    train.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    train.add_argument("--seed", type=bounded_int(0, MAX_SEED), default=0)
    train.add_argument("--device", default="cpu", help="cpu or cuda (under torchrun: cuda:LOCAL_RANK)")
    train.add_argument("--run-dir", default=None, help="resumable checkpoints here")
    train.add_argument("--compile", action="store_true")
    train.add_argument(
        "--corpus",
        nargs="+",
        default=None,
        metavar="FILE",
        help="text files to train on (default: the Shakespeare corpus, see dlor.lm.data)",
    )
    train.add_argument(
        "--out", default=None, help="final model and its config, written by process 0 (.safetensors; see dlor lm sample)"
    )
    train.set_defaults(run=run_train)
    sample = lm.add_parser("sample", help="text from a GPT saved by dlor lm train --out")
    sample.add_argument("--model", required=True, help="a .safetensors file written by dlor lm train --out")
    sample.add_argument("--prompt", default="\n")
    sample.add_argument("--tokens", type=bounded_int(0, 10**6), default=200, help="bytes to sample after the prompt")
    sample.add_argument("--temperature", type=bounded_float(1e-3, 1e3, lo_open=False), default=1.0)
    sample.add_argument("--top-k", type=bounded_int(1, 256), default=None)
    sample.add_argument("--seed", type=bounded_int(0, MAX_SEED), default=0)
    sample.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    sample.set_defaults(run=run_sample)


def _save_or_rescue(model, path: str):
    """Save the trained ``model`` to ``path``; when that fails after all (the disk filled, the folder
    went away), save it to a file in the temporary folder instead and say where, so that the
    finished training is not lost. Returns the path written, or None when both failed."""
    import tempfile

    from ..lm.saved import save_model

    try:
        return save_model(model, path)
    except OSError as err:
        rescue = os.path.join(tempfile.gettempdir(), f"dlor-lm-rescued-{os.getpid()}.safetensors")
        try:
            save_model(model, rescue)
        except OSError as err2:
            print(
                f"dlor lm: error: could not save the model to {path} ({err.strerror}) nor to {rescue} ({err2.strerror})",
                file=sys.stderr,
            )
            return None
        print(
            f"dlor lm: note: could not save the model to {path} ({err.strerror}); saved it to {rescue} instead", file=sys.stderr
        )
        return Path(rescue)


def _checked_device(args, distributed: bool):
    from .._device import check_device

    if args.out is not None:  # before training, not after it
        from ..lm.saved import check_model_path

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
    return device


def run_train(args) -> int:
    import torch
    import torch.distributed as dist

    from ..lm import trainer
    from ..lm.data import load_corpus
    from ..lm.model import GPTConfig
    from ..train.ddp import process_rank_and_world

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = _checked_device(args, distributed)  # DLoRError: one line and exit 2, before any work
    if distributed:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        cfg = GPTConfig(
            variant=args.variant,
            n_layer=args.n_layer,
            n_head=args.n_head,
            n_embd=args.n_embd,
            block_size=args.block,
            rank=args.rank,
            density=args.density,
        )
        s = trainer.TrainSettings(
            steps=args.steps,
            batch_size=args.batch,
            lr=args.lr,
            dtype=args.dtype,
            seed=args.seed,
            eval_every=max(1, args.steps // 4),
            eval_batches=2,
        )
        rec = trainer.train(cfg, s, load_corpus(args.corpus), device=device, run_dir=args.run_dir, compile=args.compile)
    except DLoRError:
        if distributed:
            dist.destroy_process_group()
        raise
    rank, world = process_rank_and_world()
    if rank == 0:
        print(
            f"processes: {world}; variant {cfg.variant}; params {rec['params']:,}; "
            f"validation {rec['val_loss']:.4f} nats/byte ({rec['val_bits_per_byte']:.4f} bits/byte)"
        )
        if args.out:
            out = _save_or_rescue(rec["model"], args.out)
            if out is None:
                return 1
            print(f"saved to {out}; sample it with: dlor lm sample --model {out}")
    if distributed:
        dist.barrier()  # every process finishes (process 0 saves) before any tears gloo down
        dist.destroy_process_group()
    return 0


def run_sample(args) -> int:
    from ..lm.sample import sample_text
    from ..lm.saved import load_model

    model = load_model(args.model, device=args.device)
    print(sample_text(model, args.prompt, args.tokens, args.temperature, args.top_k, args.seed))
    return 0
