"""``dlor reproduce``: regenerate the paper's figures and tables with a report."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .._options import bounded_int, check_output_folder
from ..experiments import _ranks as ranks
from ..experiments._registry import REGISTRY, RunContext, describe, experiment, run_experiment
from . import CLIError
from .info import environment


def add_parser(sub) -> None:
    p = sub.add_parser("reproduce", help="regenerate the paper's figures and tables with a report")
    p.add_argument(
        "what",
        nargs="?",
        default="all",
        help="an experiment or one of its artefacts (e.g. fig4); default: all. --list shows them",
    )
    p.add_argument("--list", action="store_true", help="list the experiments, their artefacts and budgets, and exit")
    p.add_argument(
        "--budget",
        choices=["tiny", "quick", "paper"],
        default="quick",
        help="quick: minutes on a laptop; paper: the paper's full budget; tiny: smoke test",
    )
    p.add_argument("--out", default="results", help="output folder (default: results)")
    p.add_argument("--seeds", type=bounded_int(1, 1000), default=None, help="override the number of seeds")
    p.add_argument(
        "--workers", type=bounded_int(1, 256), default=None, help="processes for the training sweep (default: one per CPU core)"
    )
    p.add_argument(
        "--batch-size",
        default=None,
        metavar="B|full",
        help="minibatch size of the training sweep's epochs, or 'full' for one full-batch step per epoch "
        "(default: the sweep's documented default)",
    )
    p.add_argument(
        "--init",
        default=None,
        metavar="NAME",
        help="initialisation of the deep and wide models of the training sweep: library | h1-linear",
    )
    p.add_argument(
        "--split", default=None, metavar="NAME", help="train/test split of the 400 sawtooth points: random | interleaved"
    )
    p.add_argument(
        "--device",
        default="cpu",
        metavar="cpu|cuda|cuda:N",
        help="where the experiments train (default: cpu); under torchrun, cuda means cuda:LOCAL_RANK",
    )
    p.add_argument(
        "--corpus",
        default=None,
        metavar="DIR",
        help="lm: pretrain on the text files of DIR instead of the Shakespeare corpus that ships with dlor",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        dest="settings",
        help="set a field of the experiment's config (repeatable), e.g. --set rates=3e-4,1e-3,3e-3 "
        "--set factor_init=zero_u (an unknown field is named with the list of them)",
    )
    p.add_argument("--force", action="store_true", help="recompute experiments whose results exist")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def _device(text: str) -> str:
    """``--device``: "cpu", "cuda" or "cuda:N", checked against this machine. Under torchrun,
    "cuda" means the node's ``LOCAL_RANK``-th GPU (modulo the GPUs present: ranks may share one)."""
    import torch

    from .._device import check_device

    device = check_device(text, option="--device")  # DLoRError: one line and exit 2, as CLIError
    if device.type == "cpu" or device.index is not None:
        return str(device)
    index = ranks.rank_on_node() % torch.cuda.device_count() if ranks.world_size() > 1 else 0
    return f"cuda:{index}"


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
    from ..experiments._common import Claim, Summary, read_json_checked

    data = read_json_checked(path, _looks_like_summary)
    if data is None:  # missing, or torn and set aside: recompute
        return None
    cfg = data.get("config", {})
    if cfg.get("budget") != budget or (seeds is not None and cfg.get("seeds") != seeds):
        return None
    if batch_size is not _NOT_GIVEN and "batch_size" in cfg and cfg["batch_size"] != batch_size:
        return None
    data["claims"] = [Claim(**c) for c in data["claims"]]
    return Summary(**data)


def _looks_like_summary(data) -> bool:
    """Whether ``data`` builds a Summary and its Claims (what read_json_checked sets aside otherwise)."""
    from dataclasses import fields

    from ..experiments._common import Claim, Summary

    def exactly(obj, cls, required) -> bool:
        return isinstance(obj, dict) and required <= obj.keys() <= {f.name for f in fields(cls)}

    return (
        exactly(data, Summary, {"name", "title", "claims", "config"})
        and isinstance(data["config"], dict)
        and isinstance(data["claims"], list)
        and all(exactly(c, Claim, {f.name for f in fields(Claim)}) for c in data["claims"])
    )


def _earlier_runs(out: Path) -> list[dict]:
    """The runs recorded in ``out/config.json`` before this one (a torn file is set aside)."""
    from ..experiments._common import read_json_checked

    old = read_json_checked(out / "config.json", lambda d: isinstance(d, dict) and isinstance(d.get("argv"), dict))
    if old is None:
        return []
    earlier = old.get("earlier_runs", [])
    return (earlier if isinstance(earlier, list) else []) + [{k: old[k] for k in ("argv", "environment") if k in old}]


LOCK_NAME = ".dlor-reproduce.lock"


def _lock_folder(out: Path):
    """Take an exclusive lock on ``out`` (``out/.dlor-reproduce.lock``, ``fcntl.flock``), so that a
    second ``dlor reproduce`` into the same folder stops at once instead of redoing the work and
    racing the first one's files. Returns the open lock file (the lock lasts as long as it is open)."""
    try:
        import fcntl
    except ImportError:  # no flock on this OS: run unlocked
        return None
    handle = (out / LOCK_NAME).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise CLIError(
            f"--out {out} is in use by another dlor reproduce (process {holder}); wait for it to finish or choose another --out"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def print_registry() -> None:
    """``dlor reproduce --list``: one line per experiment."""
    rows = describe()
    width = max(len(r["name"]) for r in rows)
    print(f"{'experiment':<{width}}  artefacts  [budgets: {rows[0]['budgets']}]")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['artefacts']}")


EXPERIMENTS_EXTRA = ("matplotlib", "tqdm", "sklearn")  # what the experiments import beyond the core


def _check_experiments_extra() -> None:
    """CLIError naming the ``experiments`` extra when a package it brings is missing."""
    from importlib.util import find_spec

    missing = [name for name in EXPERIMENTS_EXTRA if find_spec(name) is None]
    if missing:
        raise CLIError(
            f"dlor reproduce needs the experiments extra ({', '.join(missing)} missing): "
            "pip install 'dlor[experiments]' (make setup installs it)"
        )


def run(args) -> int:
    if args.list:
        print_registry()
        return 0
    _check_experiments_extra()

    device = _device(args.device)
    batch_size = _batch_size(args.batch_size)
    if args.init is not None:
        from ..nn._families import family_init

        family_init(args.init)
    if args.split is not None:
        from ..experiments._data import check_split

        check_split(args.split)
    out = check_output_folder(args.out)
    wanted = list(REGISTRY.values()) if args.what == "all" else [experiment(args.what)]
    options = {name: value for name, value in (("init", args.init), ("split", args.split)) if value is not None}
    if batch_size is not _NOT_GIVEN:
        options["batch_size"] = batch_size
    options = _settings(args, wanted, options)  # every setting checked before the folder is touched
    out.mkdir(parents=True, exist_ok=True)
    lock = _lock_folder(out) if ranks.is_main() else None
    try:
        return _run_locked(args, out, device, batch_size, wanted, options)
    finally:
        if lock is not None:
            lock.close()  # releases the flock


def _run_locked(args, out: Path, device: str, batch_size, wanted: list, options: dict) -> int:
    from ..experiments._common import write_json
    from ..experiments.report import write_report

    env = environment()
    if ranks.is_main():  # under torchrun rank 0 alone reads and writes the folder's own files
        config = {"argv": vars(args) | {"run": None}, "environment": env, "earlier_runs": _earlier_runs(out)[-20:]}
        write_json(out / "config.json", config)
    ctx = RunContext(device=device, workers=args.workers, progress=not args.quiet)
    summaries: list = []
    unavailable: list[str] = []
    ran: set[str] = set()
    for exp in wanted:
        name = exp.name
        ran.add(name)
        if not ranks.is_main() and not exp.shares_groups:
            continue  # under torchrun rank 0 alone runs the experiments that train no groups
        done = out / name / "summary.json"
        if done.exists() and not args.force:
            kept = _load_summary(done, args.budget, args.seeds, batch_size)
            if kept is not None and any(_differs(kept.config.get(k), v) for k, v in options.items() if k in kept.config):
                kept = None  # made with other settings
            intact = getattr(exp.load(), "files_intact", None)  # the experiment's own per-run files
            if kept is not None and intact is not None and not intact(out):
                kept = None
            if kept is not None:
                summaries.append(kept)
                say(f"[{name}] kept finished results from {done} (use --force to recompute)")
                continue
        t0 = time.perf_counter()
        say(f"[{name}] running at the {args.budget} budget ...")
        summary = run_experiment(exp, args.budget, out, ctx, seeds=args.seeds, options=options)
        summaries.append(summary)
        for c in summary.claims:
            say(f"[{name}]   {c.verdict:>19}: {c.claim[:70]}... measured {c.measured}")
        say(f"[{name}] done in {time.perf_counter() - t0:.1f}s")
    if not ranks.is_main():  # its groups are written; rank 0 writes the figures and the report
        ranks.close()
        return 0
    # the report also keeps experiments finished earlier in this folder at the same budget
    for name in REGISTRY:
        path = out / name / "summary.json"
        if name not in ran and path.exists():
            kept = _load_summary(path, args.budget, None)
            if kept is not None:
                summaries.append(kept)
    order = list(REGISTRY)
    summaries.sort(key=lambda s: order.index(s.name) if s.name in order else len(order))
    write_report(out, summaries, unavailable, args.budget, env)
    print(f"Report: {out / 'report.md'} and {out / 'report.html'}")
    ranks.close()
    return 0


def _settings(args, wanted, options: dict) -> dict:
    """``options`` with ``--set FIELD=VALUE`` and ``--corpus DIR`` added, every override checked
    against the configs of the chosen experiments that have its field, before any work
    (DLoRError: one line, exit 2)."""
    from ..experiments._registry import config_for, parse_setting

    out: dict = dict(options)
    flags = {"seeds": "--seeds", "batch_size": "--batch-size", "init": "--init", "split": "--split"}
    given = dict(options) | ({"seeds": args.seeds} if args.seeds is not None else {})
    for field, flag in flags.items():  # an option no chosen experiment has is refused, not ignored
        if field in given and not any(field in _fields(e) for e in wanted):
            users = [e.name for e in REGISTRY.values() if field in _fields(e)]
            names = ", ".join(e.name for e in wanted)
            raise CLIError(f"{flag} applies to {', '.join(users)}; {names} has no {field.replace('_', ' ')}")
    for text in args.settings:
        if len(wanted) != 1:
            raise CLIError("--set applies to one experiment; name it, e.g. dlor reproduce lm --set rates=1e-3,3e-3,1e-2")
        name, value = parse_setting(wanted[0], text)
        if name in given and _differs(value, given[name]):
            raise CLIError(f"--set {name}={value} and {flags[name]} {given[name]} disagree; give one of them")
        out[name] = value
    if args.corpus is not None:
        if not any("corpus" in _fields(e) for e in wanted):
            raise CLIError("--corpus applies to the language-model experiment: dlor reproduce lm --corpus DIR")
        out["corpus"] = str(Path(args.corpus).resolve())
    for e in wanted:  # every config validates once, with these overrides, before anything trains
        fields = _fields(e)
        config_for(e, args.budget, **{k: v for k, v in out.items() if k in fields})
    return out


def _fields(exp) -> set[str]:
    from dataclasses import fields

    return {f.name for f in fields(exp.load().CONFIG)}


def _differs(kept, value) -> bool:
    return (list(kept) if isinstance(kept, (list, tuple)) else kept) != (list(value) if isinstance(value, tuple) else value)


def say(line: str) -> None:
    """Progress lines: from rank 0 only under torchrun."""
    if ranks.is_main():
        print(line, flush=True)
