import random

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_everything():
    """Every test starts from the same random state."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


def call_entry_point(entry, argv, stop=()):
    """Run a command's ``main(argv)`` in this process: ``(exit code, stdout, stderr)``. An
    exception of a type in ``stop`` (a stub that ends the command before its long work) gives
    the code ``"stopped before the work"``."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = entry(argv)
        except SystemExit as exit_:
            code = exit_.code
        except tuple(stop):
            code = "stopped before the work"
    return code, out.getvalue(), err.getvalue()
