"""``dlor pieces``: the exact linear pieces of a scalar-input ReLU network (Appendix D)."""

from __future__ import annotations

from .._options import MAX_SEED, bounded_float, bounded_int

MAX_DEPTH = 24  # 2^24 pieces: the counter's points take about 0.5 GB


def add_parser(sub) -> None:
    p = sub.add_parser(
        "pieces",
        help="count the exact linear pieces of the depth-separation sawtooth or of an "
        "initialised deep / wide / dense ReLU network",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--sawtooth",
        type=int,
        metavar="L",  # checked by sawtooth_network (L >= 1), bounded below
        help="the deep DLoR construction of L rank-1 components (2^L pieces on [0, 1])",
    )
    what.add_argument(
        "--family", choices=["deep", "wide", "dense"], help="a network of Appendix H.2's families, initialised from --seed"
    )
    p.add_argument("--k", type=int, default=4, help="substructures of the deep or wide network (default 4)")
    p.add_argument("--width", type=int, default=16, help="hidden width (default 16)")
    p.add_argument("--in-features", type=int, default=1, help="input width; counting needs 1 (default)")
    p.add_argument("--activation", default="relu", help="relu (default); softplus is refused: it is not piecewise linear")
    p.add_argument("--seed", type=bounded_int(0, MAX_SEED), default=0, help="seed of the initialisation (default 0)")
    p.add_argument(
        "--interval",
        type=bounded_float(-1e6, 1e6, lo_open=False),
        nargs=2,
        metavar=("A", "B"),
        default=None,
        help="where to count (default: [0, 1] for --sawtooth, [-2, 2] otherwise)",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    import torch
    from torch import nn

    from .._errors import DLoRError
    from ..expressivity import count_pieces, sawtooth_network, sawtooth_network_params
    from ..nn import MLP, DeepDLoR, WideDLoR

    model: nn.Module
    if args.sawtooth is not None:
        if args.sawtooth > MAX_DEPTH:
            raise DLoRError(f"--sawtooth {args.sawtooth}: at most {MAX_DEPTH} (2^L pieces take memory exponential in L)")
        model = sawtooth_network(args.sawtooth)
        label = f"sawtooth construction, L = {args.sawtooth} ({sawtooth_network_params(args.sawtooth)} parameters)"
        interval = tuple(args.interval) if args.interval else (0.0, 1.0)
    else:
        for name in ("k", "width", "in_features"):
            if not 1 <= getattr(args, name) <= 4096:
                raise DLoRError(f"--{name.replace('_', '-')} must be in [1, 4096], got {getattr(args, name)}")
        torch.manual_seed(args.seed)
        if args.family == "deep":
            model = DeepDLoR(args.k, width=args.width, in_features=args.in_features, activation=args.activation)
        elif args.family == "wide":
            model = WideDLoR(args.k, width=args.width, in_features=args.in_features, activation=args.activation)
        else:
            model = MLP([args.in_features, args.width, args.width, 1], activation=args.activation)
        params = sum(p.numel() for p in model.parameters())
        label = f"{args.family} network (k = {args.k}, width {args.width}, seed {args.seed}, {params} parameters)"
        interval = tuple(args.interval) if args.interval else (-2.0, 2.0)
    got = count_pieces(model, interval)
    print(f"{label} on [{interval[0]:g}, {interval[1]:g}]: {got.pieces} linear pieces, {got.regions} activation regions")
    return 0
