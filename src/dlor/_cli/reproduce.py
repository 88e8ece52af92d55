"""``dlor reproduce``: regenerate the paper's figures and tables with a report."""

from __future__ import annotations

import json
import time
from importlib import import_module
from inspect import signature
from pathlib import Path

from . import CLIError
from .info import environment

# name -> module under dlor.experiments exposing run(out, budget, seeds, progress); None: not built yet
EXPERIMENTS: dict[str, str | None] = {
    "table1": "training",
    "fig2": "uat",  # panels (a, b); (c) comes with the spectral experiment
    "fig3": "uat",
    "fig4": "training",
    "fig5": "fig5",
    "fig6": "training",
    "spectral": "spectral",  # Figures 2(c) and 3(c)
    "realdata": "realdata",  # Appendix G on scikit-learn's digits
    "protocol": "protocol",  # Section 6.2 under every reading of what the paper leaves open
}


def add_parser(sub) -> None:
    p = sub.add_parser("reproduce", help="regenerate the paper's figures and tables with a report")
    p.add_argument("what", nargs="?", default="all", choices=["all", *EXPERIMENTS])
    p.add_argument("--budget", choices=["tiny", "quick", "paper"], default="quick",
                   help="quick: minutes on a laptop; paper: the paper's full budget; tiny: smoke test")
    p.add_argument("--out", default="results", help="output folder (default: results)")
    p.add_argument("--seeds", type=int, default=None, help="override the number of seeds")
    p.add_argument("--workers", type=int, default=None,
                   help="processes for the training sweep (default: one per CPU core)")
    p.add_argument("--batch-size", default=None, metavar="B|full",
                   help="minibatch size of the training sweep's epochs, or 'full' for one full-batch step per epoch "
                        "(default: the sweep's documented default)")
    p.add_argument("--init", default=None, metavar="NAME",
                   help="initialisation of the deep and wide models of the training sweep: library | h1-linear")
    p.add_argument("--split", default=None, metavar="NAME",
                   help="train/test split of the 400 sawtooth points: random | interleaved")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--force", action="store_true", help="recompute experiments whose results exist")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def _batch_size(text: str | None):
    """``--batch-size``: a positive integer or "full" (None: not given)."""
    if text is None:
        return _NOT_GIVEN
    if text.strip().lower() == "full":
        return None
    try:
        value = int(text)
    except ValueError:
        raise CLIError(f"--batch-size must be a positive integer or 'full', got {text!r}") from None
    if value < 1:
        raise CLIError(f"--batch-size must be a positive integer or 'full', got {value}")
    return value


_NOT_GIVEN = object()


def _load_summary(path: Path, budget: str, seeds: int | None, batch_size=_NOT_GIVEN):
    """A finished experiment's summary, if it was made at this budget (seed count, batch size)."""
    from ..experiments._common import Claim, Summary

    data = json.loads(path.read_text())
    cfg = data.get("config", {})
    if cfg.get("budget") != budget or (seeds is not None and cfg.get("seeds") != seeds):
        return None
    if batch_size is not _NOT_GIVEN and "batch_size" in cfg and cfg["batch_size"] != batch_size:
        return None
    data["claims"] = [Claim(**c) for c in data["claims"]]
    return Summary(**data)


def run(args) -> int:
    from ..experiments._common import write_json
    from ..experiments.report import write_report

    if args.device == "cuda":
        raise CLIError("--device cuda: the experiments of this version run on the CPU only (the library itself "
                       "runs on any device); use --device cpu")
    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers must be >= 1, got {args.workers}")
    if args.seeds is not None and args.seeds < 1:
        raise CLIError(f"--seeds must be >= 1, got {args.seeds}")
    batch_size = _batch_size(args.batch_size)
    if args.init is not None:
        from ..nn._families import family_init

        family_init(args.init)
    if args.split is not None:
        from ..experiments._data import check_split

        check_split(args.split)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    write_json(out / "config.json", {"argv": vars(args) | {"run": None}, "environment": env})
    wanted = list(EXPERIMENTS) if args.what == "all" else [args.what]
    summaries, unavailable, ran = [], [], set()
    for name in wanted:
        module = EXPERIMENTS[name]
        if module is None:
            print(f"[{name}] not available yet: its experiment is not implemented in this version")
            unavailable.append(name)
            continue
        if module in ran:  # several figures can come from one experiment
            continue
        ran.add(module)
        name = module
        done = out / name / "summary.json"
        if done.exists() and not args.force:
            kept = _load_summary(done, args.budget, args.seeds, batch_size)
            if kept is not None:
                summaries.append(kept)
                print(f"[{name}] kept finished results from {done} (use --force to recompute)")
                continue
        t0 = time.perf_counter()
        print(f"[{name}] running at the {args.budget} budget ...", flush=True)
        mod = import_module(f"dlor.experiments.{module}")
        params = signature(mod.run).parameters
        extra = {"workers": args.workers} if args.workers is not None and "workers" in params else {}
        if batch_size is not _NOT_GIVEN and "batch_size" in params:
            extra["batch_size"] = batch_size
        extra |= {name: getattr(args, name) for name in ("init", "split")
                  if getattr(args, name) is not None and name in params}
        summary = mod.run(out, budget=args.budget, seeds=args.seeds, progress=not args.quiet, **extra)
        summaries.append(summary)
        for c in summary.claims:
            print(f"[{name}]   {c.verdict:>19}: {c.claim[:70]}... measured {c.measured}")
        print(f"[{name}] done in {time.perf_counter() - t0:.1f}s")
    # the report also keeps experiments finished earlier in this folder at the same budget
    for module in dict.fromkeys(m for m in EXPERIMENTS.values() if m):
        path = out / module / "summary.json"
        if module not in ran and path.exists():
            kept = _load_summary(path, args.budget, None)
            if kept is not None:
                summaries.append(kept)
    order = list(dict.fromkeys(m for m in EXPERIMENTS.values() if m))
    summaries.sort(key=lambda s: order.index(s.name) if s.name in order else len(order))
    write_report(out, summaries, unavailable, args.budget, env)
    print(f"Report: {out / 'report.md'} and {out / 'report.html'}")
    return 0
