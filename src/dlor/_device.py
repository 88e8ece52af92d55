"""Checking a device request against this machine, with an error that names the way out.

``torch.device("cuda")`` is accepted on any machine, and the first tensor moved there fails deep
inside torch (``AssertionError: Torch not compiled with CUDA enabled``); a request for
``cuda:3`` on a one-GPU machine fails the same way. Every entry point that takes a device (the
``dlor`` command, ``dlor lm train``, [`dlor.lm.train`][dlor.lm.train]) checks it here first.
"""

from __future__ import annotations

import torch

from ._errors import DLoRError

__all__ = ["check_device"]


def check_device(spec: str | torch.device, option: str | None = None) -> torch.device:
    """``spec`` ("cpu", "cuda", "cuda:N" or a ``torch.device``) as a ``torch.device``, checked.

    Args:
        spec: the request. ``"cuda"`` keeps no index (the caller picks one, e.g. ``LOCAL_RANK``).
        option: the command-line option that carried it (``"--device"``), for the message.

    Raises:
        DLoRError: ``spec`` is not cpu or cuda[:N], CUDA is not available, or ``cuda:N`` names a
            GPU this machine does not have.
    """
    said = f"{option} {spec}" if option else f"device {str(spec)!r}"
    use_cpu = f"{option} cpu" if option else "device='cpu'"
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise DLoRError(f"{option or 'device'} must be cpu, cuda or cuda:N, got {str(spec)!r}")
    if device.type == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        why = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise DLoRError(f"{said}: CUDA is not available on this machine ({why}, torch {torch.__version__}); use {use_cpu}")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise DLoRError(f"{said}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    return device
