"""Launching ``torchrun`` with local processes over gloo on the loopback interface."""

from __future__ import annotations

import os
import socket
import sys

__all__ = ["loopback_env", "free_port", "torchrun_command"]


def loopback_env() -> dict:
    """The environment for torchrun workers: one thread each, gloo pinned to ``lo`` (otherwise it
    picks the address the hostname resolves to, which need not reach this machine)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if os.path.exists("/sys/class/net/lo"):
        env["GLOO_SOCKET_IFNAME"] = "lo"
    return env


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_command(nproc: int, *args: str) -> list[str]:
    """``python -m torch.distributed.run`` with ``nproc`` local processes on a free loopback port."""
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1",
            f"--master_port={free_port()}", *args]  # fmt: skip
