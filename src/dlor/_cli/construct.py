"""``dlor construct MODEL --rank R --mode deep|wide|augmented``."""

from __future__ import annotations

from pathlib import Path

from .._options import bounded_float, bounded_int, check_memory, check_output_path

MAX_SAMPLES = 10**8


def add_parser(sub) -> None:
    p = sub.add_parser("construct", help="compile a saved nn.Sequential MLP into a DLoR network")
    p.add_argument("model", help="a torch.save'd nn.Sequential (loading runs pickle: use files you trust)")
    p.add_argument("--rank", type=bounded_int(1, 2**20), default=1, help="factor rank (deep, wide)")
    p.add_argument("--mode", choices=["deep", "wide", "augmented"], required=True)
    p.add_argument("--h", default="auto", help="scale h, or 'auto' (default)")
    p.add_argument("--order", type=int, choices=[1, 2], default=2, help="1: the paper's scheme; 2: Richardson (default)")
    p.add_argument("--box", type=bounded_float(-1e6, 1e6, lo_open=False), nargs=2, default=[-1.0, 1.0],
                   metavar=("LOW", "HIGH"),
                   help="input box sampled to measure the error (default: -1 1)")
    p.add_argument("--samples", type=bounded_int(1, MAX_SAMPLES), default=512,
                   help="points sampled to choose h and to measure the error (default 512)")
    p.add_argument("--out", default=None, help="where to torch.save the compiled network")
    p.set_defaults(run=run)


def run(args) -> int:
    import math

    import torch
    from torch import nn

    from .._errors import DLoRError
    from ..construct import max_abs_error, to_augmented, to_deep, to_wide

    path = Path(args.model)
    if not path.exists():
        raise DLoRError(f"no such file: {args.model}")
    out = check_output_path(args.out or str(path.with_suffix(f".{args.mode}.pt")), inputs=(args.model,))
    try:
        mlp = torch.load(path, weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a user error here
        raise DLoRError(f"could not load a model from {args.model}: {err}") from None
    if not isinstance(mlp, nn.Sequential):
        raise DLoRError(f"{args.model} holds a {type(mlp).__name__}, not an nn.Sequential")
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
        net = to_deep(mlp, args.rank, h, order=args.order, sample=X)
    elif args.mode == "wide":
        net = to_wide(mlp, args.rank, h, order=args.order, sample=X)
    else:
        net = to_augmented(mlp, h, order=args.order, sample=X)
    X_check = lo + (hi - lo) * torch.rand(args.samples, first.in_features, generator=g, dtype=dtype)
    err = max_abs_error(net, mlp, X_check)
    if not math.isfinite(err):
        raise DLoRError(f"the compiled network's error is not finite ({err}) at h = {net.h:.3g}; nothing was written. "
                        "Use a larger --h, or 'auto'")
    stats = net.stats(mlp)
    print(f"{args.mode} DLoR network: h = {net.h:.3g}, order {args.order}")
    print(f"  max |DLoR(x) - MLP(x)| on {args.samples} fresh points of [{lo}, {hi}]^{first.in_features}: {err:.3e}")
    print(f"  parameters {stats['params']['total']} (DLoR weights {stats['params']['dlor_weights']}, dense weights "
          f"{stats['params']['dense_weights']}, biases {stats['params']['biases']}) vs dense {stats['dense']['params']['total']}")
    print(f"  depth {stats['depth']} (dense {stats['dense']['depth']}), width {stats['width']} (dense {stats['dense']['width']})")
    torch.save(net, out)
    print(f"wrote {out}")
    return 0


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
