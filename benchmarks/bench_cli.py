"""How long the ``dlor`` command takes to answer, and how long sampling and construction take.

* Start-up: ``dlor --help``, ``dlor SUBCOMMAND --help`` for every subcommand, ``dlor --version`` and
  the refusal of a bad option, each a fresh process (median of 5). Goal: <= 0.5 s each.
* ``dlor lm sample``: 500 tokens from the model that ``dlor lm train --steps 30`` writes (116k
  parameters, block 64), timed inside one process after the start-up (median of 3), and the whole
  command. Goal: <= 2 s after start-up.
* ``dlor construct --mode augmented`` (and deep, wide) on a 3-8-8-2 tanh MLP, float64, h='auto':
  the whole command (median of 3). Goal: <= 3 s.

Run: .venv/bin/python benchmarks/bench_cli.py [--repeats 5] [--out docs/benchmarks/bench_cli.txt]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_GOAL, SAMPLE_GOAL, CONSTRUCT_GOAL = 0.5, 2.0, 3.0
SUBCOMMANDS = ("reproduce", "decompose", "construct", "pieces", "lm", "demo", "info")


def dlor(*args: str, check: bool = False) -> float:
    """Seconds that ``python -m dlor ARGS`` takes, as a user's shell sees it."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "dlor", *args], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if check and res.returncode != 0:
        raise SystemExit(f"dlor {' '.join(args)} failed: {res.stderr}")
    return seconds


def median_of(n: int, fn) -> float:
    return statistics.median(fn() for _ in range(n))


def sample_seconds(model_path: Path, tokens: int) -> float:
    """Sampling alone, in a process where torch and the model are loaded already."""
    code = (
        "import time; from dlor.lm.saved import load_model; from dlor.lm.sample import sample_text\n"
        f"m = load_model({str(model_path)!r}); sample_text(m, 'ROMEO:', 5)\n"
        f"t = time.perf_counter(); sample_text(m, 'ROMEO:', {tokens}); print(time.perf_counter() - t)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(res.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    lines = [f"python {sys.version.split()[0]}; median of {args.repeats} fresh processes each", ""]
    starts = {
        "dlor --help": ("--help",),
        "dlor --version": ("--version",),
        "dlor decompose --bogus (refused)": ("decompose", "--bogus"),
    }
    starts |= {f"dlor {s} --help": (s, "--help") for s in SUBCOMMANDS}
    lines.append(f"start-up (goal <= {START_GOAL} s)")
    worst = 0.0
    for label, argv in starts.items():
        s = median_of(args.repeats, lambda a=argv: dlor(*a))
        worst = max(worst, s)
        lines.append(f"  {label:<40} {s:6.3f} s")
    lines.append(f"  slowest {worst:.3f} s: {'within' if worst <= START_GOAL else 'ABOVE'} the goal")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = folder / "gpt.safetensors"
        dlor("lm", "train", "--steps", "30", "--out", str(model), check=True)
        inside = statistics.median(sample_seconds(model, 500) for _ in range(3))
        whole = median_of(3, lambda: dlor("lm", "sample", "--model", str(model), "--tokens", "500", check=True))
        lines += [
            "",
            f"dlor lm sample, 500 tokens, model of dlor lm train --steps 30 (goal <= {SAMPLE_GOAL} s after start-up)",
            f"  sampling alone      {inside:6.3f} s: {'within' if inside <= SAMPLE_GOAL else 'ABOVE'} the goal",
            f"  the whole command   {whole:6.3f} s",
        ]
        code = (
            "import torch; from torch import nn; from dlor.construct import save_mlp; torch.manual_seed(0); "
            "save_mlp(nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2)).double(), "
            f"{str(folder / 'mlp.safetensors')!r})"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
        lines += ["", f"dlor construct on a 3-8-8-2 tanh MLP, float64, h='auto' (goal <= {CONSTRUCT_GOAL} s, the whole command)"]
        for mode in ("augmented", "deep", "wide"):
            out = folder / f"{mode}.safetensors"
            argv = ("construct", str(folder / "mlp.safetensors"), "--mode", mode, "--out", str(out), "--force")
            s = median_of(3, lambda a=argv: dlor(*a, check=True))
            verdict = "within" if s <= CONSTRUCT_GOAL else "ABOVE"
            lines.append(f"  --mode {mode:<10} {s:6.3f} s" + (f": {verdict} the goal" if mode == "augmented" else ""))
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
