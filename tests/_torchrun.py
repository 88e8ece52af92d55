"""Launching torchrun from the tests: 2 local processes over gloo on the loopback interface."""

import os
import socket
import subprocess
import sys
from pathlib import Path


def loopback_env() -> dict:
    """The environment for torchrun workers: one thread each, gloo pinned to ``lo`` (otherwise it picks
    the address the hostname resolves to; the tests are about arithmetic, not the machine's network)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if os.path.exists("/sys/class/net/lo"):
        env["GLOO_SOCKET_IFNAME"] = "lo"
    return env


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_two_processes(common: list[str], out, logs):
    """Launch ``common`` under torchrun with 2 processes on the loopback interface.

    The test is about DDP's arithmetic, not the machine's network: gloo is pinned to ``lo``
    (otherwise it picks the address the hostname resolves to) and each worker's output goes to
    ``logs`` so that a crash inside a worker is visible in the failure message.
    """
    env = loopback_env()
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        f"--log-dir={logs}",
        "--redirects=3",
        *common,
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    worker_logs = "\n".join(f"--- {f}\n{f.read_text()[-3000:]}" for f in sorted(Path(logs).rglob("*.log")))
    return proc, worker_logs
