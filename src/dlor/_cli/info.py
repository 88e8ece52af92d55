"""``dlor info``: versions, threads and device."""

from __future__ import annotations

import platform


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="print library versions, threads and device")
    p.set_defaults(run=run)


def environment() -> dict:
    """Versions and machine facts, also recorded with every reproduction."""
    import numpy
    import scipy
    import torch

    import dlor

    return {
        "dlor": dlor.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "platform": platform.platform(),
        "processor": platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }


def run(args) -> int:
    for key, value in environment().items():
        print(f"{key:>15}: {value}")
    return 0
