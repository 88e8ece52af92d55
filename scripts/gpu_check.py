"""Does dlor work on this GPU, and how fast? One command, one report.

Usage: python scripts/gpu_check.py [--device cuda] [--size full|tiny] [--out gpu-check]   (make gpu-check)

On ``--device`` (default ``cuda``) it runs, each item timed and marked pass or fail:
  1. the tests marked ``device`` (``pytest -m device``, with ``DLOR_TEST_DEVICE`` set to the device);
  2. the layer benchmark: forward, and forward + backward, in float32 and under bf16 autocast, of
     ``nn.Linear``, ``DLoRLinear`` and the three-line composite ``alpha*x + (x@V)@U.T + b``, at
     (n, r) = (4096, 64) and (8192, 128), batch 1024;
  3. the additive and multiplicative decompositions at n = 4096 (float64), with their certificates;
  4. ``dlor reproduce --budget tiny`` (every experiment);
  5. ``dlor lm train`` for 200 steps.
It writes ``OUT/report.md``: the device's name, the versions, every figure and pass/fail per item.
Where the device is ``cuda`` and this machine has none, it prints one line saying so and exits 0.
``--size tiny`` shrinks every item (one small shape, n = 64, one experiment, 5 steps) so that the
CPU fallback (``--device cpu --size tiny``) runs within the test suite and the script cannot rot.
Exit status: 0 when every item passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SIZES = {
    "full": {"shapes": [(4096, 64), (8192, 128)], "batch": 1024, "n": 4096, "rank": 64, "experiments": [], "steps": 200},
    "tiny": {"shapes": [(256, 8)], "batch": 64, "n": 64, "rank": 8, "experiments": ["fig5"], "steps": 5},
}
LAYER_RTOL = {torch.float32: 1e-4, torch.bfloat16: 5e-2}  # DLoRLinear against the composite, relative
DECOMPOSE_TOL = 1e-8  # reconstruction error of a float64 decomposition, relative


@dataclass
class Item:
    name: str
    passed: bool
    seconds: float
    lines: list[str] = field(default_factory=list)


def _dlor() -> list[str]:
    return [sys.executable, "-m", "dlor"]


def _run(cmd: list[str], env: dict | None = None, timeout: float = 3600) -> tuple[bool, float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=ROOT, timeout=timeout)
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    return proc.returncode == 0, time.perf_counter() - start, " / ".join(tail)


def check_tests(device: str) -> Item:
    ok, seconds, tail = _run(
        [sys.executable, "-m", "pytest", "-q", "-m", "device", "-p", "no:cacheprovider"], {"DLOR_TEST_DEVICE": device}
    )
    return Item("tests marked device", ok, seconds, [f"pytest -m device: {tail}"])


def _time(fn, device: torch.device) -> float:
    from torch.utils import benchmark

    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    if device.type == "cuda":
        torch.cuda.synchronize()
    return timer.blocked_autorange(min_run_time=0.2).median


def _composite(layer):
    """The three-line layer ``alpha*x + (x@V)@U.T + b`` on ``layer``'s parameters."""
    alpha, U, V, b = layer.alpha, layer.U, layer.V, layer.bias
    return lambda x: alpha * x + (x @ V) @ U.T + b


def _step(f, x, autocast: bool, backward: bool):
    """One call of ``f`` on ``x`` (under bf16 autocast when asked), with its backward when asked."""

    def run():
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            y = f(x)
        if backward:
            y.float().sum().backward()

    return run


def check_layers(device: torch.device, shapes: list[tuple[int, int]], batch: int) -> Item:
    from torch import nn

    from dlor.nn import DLoRLinear

    start = time.perf_counter()
    head = "| n | r | dtype | pass | nn.Linear | DLoRLinear | composite | speedup over nn.Linear | speedup over the composite |"
    lines = [head, "|" + "---|" * 9]
    passed = True
    for n, r in shapes:
        torch.manual_seed(0)
        dense = nn.Linear(n, n).to(device)
        layer = DLoRLinear(n, n, rank=r).to(device)
        composite = _composite(layer)
        x = torch.randn(batch, n, device=device, requires_grad=True)
        for dtype in (torch.float32, torch.bfloat16):
            bf16 = dtype == torch.bfloat16
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                ours, theirs = layer(x).float(), composite(x).float()
            agree = torch.allclose(ours, theirs, rtol=LAYER_RTOL[dtype], atol=LAYER_RTOL[dtype])
            passed &= agree
            for backward in (False, True):
                with torch.set_grad_enabled(backward):
                    t_lin, t_dlor, t_comp = (_time(_step(f, x, bf16, backward), device) for f in (dense, layer, composite))
                name = ("bf16 autocast" if bf16 else "float32") + (" forward+backward" if backward else " forward")
                lines.append(
                    f"| {n} | {r} | {name} | {'pass' if agree else 'FAIL'} | {t_lin * 1e3:.3f} ms | "
                    f"{t_dlor * 1e3:.3f} ms | {t_comp * 1e3:.3f} ms | {t_lin / t_dlor:.2f}x | {t_comp / t_dlor:.2f}x |"
                )
    return Item("layer benchmark", passed, time.perf_counter() - start, lines)


def check_decompositions(device: torch.device, n: int, rank: int) -> Item:
    import dlor

    start = time.perf_counter()
    torch.manual_seed(0)
    W = torch.randn(n, n, dtype=torch.float64, device=device) / n**0.5
    lines, passed = [], True
    for name, fn in (("additive", dlor.additive_decompose), ("multiplicative", dlor.multiplicative_decompose)):
        t0 = time.perf_counter()
        parts, cert = fn(W, rank=rank, return_certificate=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        ok = cert.reconstruction_error <= DECOMPOSE_TOL
        passed &= ok
        lines.append(
            f"{name}, n = {n}, rank {rank}: {len(parts)} components in {time.perf_counter() - t0:.2f} s, "
            f"reconstruction error {cert.reconstruction_error:.2e} (<= {DECOMPOSE_TOL:g}: {'pass' if ok else 'FAIL'})"
        )
    return Item("decompositions", passed, time.perf_counter() - start, lines)


def check_reproduce(device: str, experiments: list[str], out: Path) -> Item:
    ok, seconds, tail = _run(
        [*_dlor(), "reproduce", *experiments, "--budget", "tiny", "--device", device, "--quiet", "--out", str(out)]
    )
    what = " ".join(experiments) or "every experiment"
    return Item("dlor reproduce --budget tiny", ok, seconds, [f"{what}: {seconds:.1f} s; {tail}"])


def check_lm(device: str, steps: int, out: Path) -> Item:
    ok, seconds, tail = _run(
        [*_dlor(), "lm", "train", "--steps", str(steps), "--device", device, "--out", str(out / "lm.safetensors")]
    )
    return Item(f"dlor lm train ({steps} steps)", ok, seconds, [f"{seconds:.1f} s; {tail}"])


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def report(device: torch.device, size: str, items: list[Item]) -> str:
    import dlor

    md = [
        "# GPU check",
        "",
        f"- device: {device_name(device)} (`{device}`), size: {size}",
        f"- versions: dlor {dlor.__version__}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
        f"Python {platform.python_version()}",
        "",
        "| item | result | seconds |",
        "|---|---|---|",
        *[f"| {i.name} | {'pass' if i.passed else '**FAIL**'} | {i.seconds:.1f} |" for i in items],
        "",
    ]
    for i in items:
        md += [f"## {i.name}", "", *i.lines, ""]
    return "\n".join(md)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--out", type=Path, default=Path("gpu-check"), help="the report goes to OUT/report.md")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(
            f"gpu-check: no CUDA device on this machine (torch {torch.__version__}, CUDA {torch.version.cuda}); nothing to check"
        )
        return 0
    from dlor._device import check_device
    from dlor._errors import DLoRError

    try:
        device = check_device(args.device, option="--device")
    except DLoRError as err:
        print(f"gpu-check: {err}", file=sys.stderr)
        return 2
    size = SIZES[args.size]
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        items = [
            check_tests(str(device)),
            check_layers(device, size["shapes"], size["batch"]),
            check_decompositions(device, size["n"], size["rank"]),
            check_reproduce(str(device), size["experiments"], Path(tmp) / "reproduce"),
            check_lm(str(device), size["steps"], Path(tmp)),
        ]
    text = report(device, args.size, items)
    (args.out / "report.md").write_text(text)
    for i in items:
        print(f"{'pass' if i.passed else 'FAIL'}  {i.name} ({i.seconds:.1f} s)")
    print(f"report: {args.out / 'report.md'}")
    return 0 if all(i.passed for i in items) else 1


if __name__ == "__main__":
    raise SystemExit(main())
