"""Launching torchrun from the tests: 2 local processes over gloo on the loopback interface."""

import subprocess
from pathlib import Path

from dlor.experiments._launch import loopback_env, torchrun_command


def torchrun_two_processes(common: list[str], out, logs):
    """Launch ``common`` under torchrun with 2 processes on the loopback interface.

    The test is about DDP's arithmetic, not the machine's network: gloo is pinned to ``lo``
    (otherwise it picks the address the hostname resolves to) and each worker's output goes to
    ``logs`` so that a crash inside a worker is visible in the failure message.
    """
    env = loopback_env()
    cmd = torchrun_command(2, f"--log-dir={logs}", "--redirects=3", *common, "--out", str(out))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    worker_logs = "\n".join(f"--- {f}\n{f.read_text()[-3000:]}" for f in sorted(Path(logs).rglob("*.log")))
    return proc, worker_logs
