"""``dlor decompose MATRIX --rank R --mode additive|multiplicative|nearest``."""

from __future__ import annotations

from .._options import bounded_float, bounded_int, check_output_path, default_output, refuse_existing, scale_float


def add_parser(sub) -> None:
    p = sub.add_parser("decompose", help="decompose a matrix into DLoR components and print the certificate")
    p.add_argument("matrix", help="a .npy, .pt or .safetensors file holding one 2-D matrix")
    p.add_argument("--rank", type=bounded_int(1, 2**20), required=True)
    p.add_argument("--mode", choices=["additive", "multiplicative", "nearest"], required=True)
    p.add_argument("--alpha", type=scale_float(), default=None, help="diagonal coefficient (default: the method's)")
    p.add_argument(
        "--perturb",
        type=bounded_float(0.0, 1.0),
        default=None,
        help="multiplicative: decompose the nearest well-conditioned matrix",
    )
    p.add_argument("--key", default=None, help="tensor name inside a .pt/.safetensors file with several")
    p.add_argument("--out", default=None, help="output .safetensors (default: MATRIX.<mode>.safetensors, MATRIX's suffix kept)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists (default: refuse)")
    p.set_defaults(run=run)


def run(args) -> int:
    import math

    import dlor

    from .._errors import DLoRError
    from ._io import load_matrix, save_factors

    if args.perturb is not None and args.mode != "multiplicative":
        raise DLoRError("--perturb applies to --mode multiplicative only")
    if args.alpha is not None and args.mode == "nearest":
        raise DLoRError("--alpha applies to --mode additive and multiplicative only (nearest fits alpha itself)")
    out = check_output_path(args.out or default_output(args.matrix, args.mode), inputs=(args.matrix,), suffix=".safetensors")
    refuse_existing(out, args.force)
    W = load_matrix(args.matrix, args.key)
    if W.dim() != 2 or W.numel() == 0:
        raise DLoRError(f"{args.matrix} holds a tensor of shape {tuple(W.shape)}; decompose needs a non-empty 2-D matrix")
    if args.mode == "multiplicative":
        if W.dim() == 2 and W.shape[0] != W.shape[1]:
            W = dlor.embed_square(W)
            print(f"embedded the {tuple(W.shape)} rectangular matrix into a square one (Remark 2)")
        factors, cert = dlor.multiplicative_decompose(W, args.rank, args.alpha, perturb=args.perturb, return_certificate=True)
        groups = [factors]
    elif args.mode == "additive":
        factors, cert = dlor.additive_decompose(W, args.rank, args.alpha or 0.0, return_certificate=True)
        groups = [[M] for M in factors]
    else:
        M, cert = dlor.nearest_dlor(W, args.rank, return_certificate=True)
        groups = [[M]]
    if not math.isfinite(cert.reconstruction_error):
        raise DLoRError(
            f"the {args.mode} decomposition is not finite (reconstruction error "
            f"{cert.reconstruction_error}); nothing was written. Use a smaller --alpha or --perturb"
        )
    save_factors(
        out,
        groups,
        {
            "mode": args.mode,
            "rank": args.rank,
            "shape": tuple(W.shape),
            "layout": "b<branch>.f<factor>.{alpha,U,V}; product order: f0 applied first",
        },
    )
    n_comp = sum(len(g) for g in groups)
    print(f"{args.mode}: {n_comp} DLoR component(s) of rank <= {args.rank} for a {tuple(W.shape)} matrix")
    print(f"  relative reconstruction error ||W - result||_F / ||W||_F = {cert.reconstruction_error:.3e}")
    if cert.max_partial_condition is not None:
        print(f"  largest condition number among partial products        = {cert.max_partial_condition:.3e}")
    if cert.perturbation:
        print(f"  moved to a nearby invertible matrix by                  {cert.perturbation:.3e} (relative)")
    for k, v in cert.extras.items():
        print(f"  {k}: {v}")
    print(f"  alpha: {cert.alpha}")
    print(f"wrote {out}")
    return 0
