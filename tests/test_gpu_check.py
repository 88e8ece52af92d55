"""``make gpu-check``: its CPU fallback at the tiny size, and its one line where no CUDA exists."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts/gpu_check.py"


def test_the_cpu_fallback_runs_every_item_and_writes_its_report(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--size", "tiny", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = (tmp_path / "report.md").read_text()
    for item in ("tests marked device", "layer benchmark", "decompositions", "dlor reproduce --budget tiny", "dlor lm train"):
        assert f"| {item}" in report and "FAIL" not in report, report
    assert f"torch {torch.__version__}" in report and "device: CPU" in report
    assert "reconstruction error" in report and "bf16 autocast forward+backward" in report


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_prints_one_line_and_exits_0(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0
    assert proc.stdout.strip().count("\n") == 0 and "no CUDA device on this machine" in proc.stdout
    assert not (tmp_path / "report.md").exists()


def test_a_bad_device_is_refused_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "tpu"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stderr.startswith("gpu-check: --device must be cpu, cuda or cuda:N")
