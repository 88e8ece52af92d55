"""``dlor construct MODEL --rank R --mode deep|wide|augmented``."""

from __future__ import annotations

from pathlib import Path

from .._options import bounded_float, bounded_int, check_memory, check_output_path, default_output, refuse_existing

MAX_SAMPLES = 10**8


def add_parser(sub) -> None:
    p = sub.add_parser("construct", help="compile a saved MLP (safetensors) into a DLoR network")
    p.add_argument(
        "model", help="an MLP's state dict as safetensors (0.weight, 0.bias, 2.weight, ...; dlor.construct.save_mlp writes one)"
    )
    p.add_argument(
        "--activation",
        default=None,
        metavar="NAME",
        help="the activation between the layers (softplus, tanh, sigmoid, gelu, silu, elu, relu, leaky_relu); "
        "default: the file's metadata or MODEL.json",
    )
    p.add_argument(
        "--trust-pickle",
        action="store_true",
        help="accept a torch.save'd nn.Sequential: unpickling it can run any code the file holds, so pass "
        "this only for files you made or trust",
    )
    p.add_argument("--rank", type=bounded_int(1, 2**20), default=None, help="factor rank (deep, wide; default 1)")
    p.add_argument("--mode", choices=["deep", "wide", "augmented"], required=True)
    p.add_argument("--h", default="auto", help="scale h, or 'auto' (default)")
    p.add_argument("--order", type=int, choices=[1, 2], default=2, help="1: the paper's scheme; 2: Richardson (default)")
    p.add_argument(
        "--box",
        type=bounded_float(-1e6, 1e6, lo_open=False),
        nargs=2,
        default=[-1.0, 1.0],
        metavar=("LOW", "HIGH"),
        help="input box sampled to measure the error (default: -1 1)",
    )
    p.add_argument(
        "--samples",
        type=bounded_int(1, MAX_SAMPLES),
        default=512,
        help="points sampled to choose h and to measure the error (default 512)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="where to write the compiled network (safetensors; default MODEL.MODE.safetensors, MODEL's suffix kept); "
        "dlor.construct.load_compiled reads it",
    )
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists (default: refuse)")
    p.set_defaults(run=run)


def run(args) -> int:
    import math

    import torch
    from torch import nn

    from .._errors import DLoRError
    from ..construct import max_abs_error, save_compiled, to_augmented, to_deep, to_wide

    path = Path(args.model)
    if not path.exists():
        raise DLoRError(f"no such file: {args.model}")
    if args.rank is not None and args.mode == "augmented":
        raise DLoRError("--rank applies to --mode deep and wide only (augmented has no rank)")
    out = check_output_path(args.out or default_output(args.model, args.mode), inputs=(args.model,), suffix=".safetensors")
    refuse_existing(out, args.force)
    mlp = _read_model(path, args)
    mlp.eval()
    h = args.h if args.h == "auto" else _positive(args.h)
    lo, hi = args.box
    if not lo < hi:
        raise DLoRError(f"--box needs LOW < HIGH, got {lo} {hi}")
    first = next((m for m in mlp if isinstance(m, nn.Linear)), None)
    if first is None:
        raise DLoRError("the model has no Linear layer")
    dtype = first.weight.dtype
    widest = max(m.out_features for m in mlp if isinstance(m, nn.Linear))
    # every compiled layer keeps (samples, 2 * widest) activations, for two chains at order 2
    check_memory("--samples", 8.0 * args.samples * (first.in_features + 4 * widest) * 4)
    g = torch.Generator().manual_seed(0)
    X = lo + (hi - lo) * torch.rand(args.samples, first.in_features, generator=g, dtype=dtype)
    if args.mode == "deep":
        net = to_deep(mlp, args.rank or 1, h, order=args.order, sample=X)
    elif args.mode == "wide":
        net = to_wide(mlp, args.rank or 1, h, order=args.order, sample=X)
    else:
        net = to_augmented(mlp, h, order=args.order, sample=X)
    X_check = lo + (hi - lo) * torch.rand(args.samples, first.in_features, generator=g, dtype=dtype)
    err = max_abs_error(net, mlp, X_check)
    if not math.isfinite(err):
        raise DLoRError(
            f"the compiled network's error is not finite ({err}) at h = {net.h:.3g}; nothing was written. "
            "Use a larger --h, or 'auto'"
        )
    stats = net.stats(mlp)
    print(f"{args.mode} DLoR network: h = {net.h:.3g}, order {args.order}")
    print(f"  max |DLoR(x) - MLP(x)| on {args.samples} fresh points of [{lo}, {hi}]^{first.in_features}: {err:.3e}")
    print(
        f"  parameters {stats['params']['total']} (DLoR weights {stats['params']['dlor_weights']}, dense weights "
        f"{stats['params']['dense_weights']}, biases {stats['params']['biases']}) vs dense {stats['dense']['params']['total']}"
    )
    print(f"  depth {stats['depth']} (dense {stats['dense']['depth']}), width {stats['width']} (dense {stats['dense']['width']})")
    save_compiled(net, mlp, {"mode": args.mode, "rank": args.rank or 1, "h": net.h, "order": args.order}, out)
    print(f"wrote {out}")
    return 0


def _is_pickle(path: Path) -> bool:
    """A torch.save file (a zip archive, or a legacy pickle stream) and not safetensors (an
    8-byte header length, then that many bytes of JSON)."""
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) == 8:
            n = int.from_bytes(head, "little")
            if 0 < n <= 100_000_000 and f.read(1) == b"{":
                return False
    return head[:2] == b"PK" or head[:1] == b"\x80"


def _read_model(path: Path, args):
    """The MLP of ``path``: safetensors, or (``--trust-pickle``) a torch.save'd nn.Sequential."""
    import torch
    from torch import nn

    from .._errors import DLoRError
    from ..construct import load_mlp

    if not _is_pickle(path):
        return load_mlp(path, activation=args.activation)
    if not args.trust_pickle:
        raise DLoRError(
            f"{path} is a pickle (torch.save), and unpickling can run any code the file holds; convert it "
            "with dlor.construct.save_mlp(model, 'model.safetensors'), or pass --trust-pickle if you trust "
            "where it came from"
        )
    try:
        mlp = torch.load(path, weights_only=False)  # the user asked for it with --trust-pickle
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a user error here
        raise DLoRError(f"could not load a model from {path}: {err}") from None
    if not isinstance(mlp, nn.Sequential):
        raise DLoRError(f"{path} holds a {type(mlp).__name__}, not an nn.Sequential")
    return mlp


def _positive(text: str) -> float:
    import math

    from .._errors import DLoRError

    try:
        value = float(text)
    except ValueError:
        raise DLoRError(f"--h must be a positive number or 'auto', got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= 1.0):
        raise DLoRError(f"--h must be positive, finite and at most 1 (the scale of the construction), got {value}")
    return value
