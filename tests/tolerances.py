"""The one table of test tolerances, keyed by (operation, dtype).

Values are (rtol, atol) for ``torch.testing.assert_close``. float64 is held to near machine
precision; float32 gets the slack its 24-bit mantissa needs.
"""

import torch

TOLERANCES = {
    ("matmul", torch.float64): (1e-12, 1e-12),
    ("matmul", torch.float32): (1e-5, 1e-5),
    ("algebra", torch.float64): (1e-12, 1e-12),
    ("algebra", torch.float32): (1e-5, 1e-5),
    ("solve", torch.float64): (1e-9, 1e-10),
    ("solve", torch.float32): (1e-3, 1e-4),
    ("logdet", torch.float64): (1e-10, 1e-10),
    ("logdet", torch.float32): (1e-4, 1e-4),
    ("layer", torch.float64): (1e-12, 1e-12),
    ("layer", torch.float32): (1e-5, 1e-5),
    ("grad", torch.float64): (1e-10, 1e-10),
    ("grad", torch.float32): (1e-4, 1e-4),
    # bfloat16 keeps 8 bits of mantissa (relative rounding 2^-8 = 3.9e-3 per operation)
    ("layer", torch.bfloat16): (2e-2, 2e-2),
    ("grad", torch.bfloat16): (2e-2, 2e-2),
}


def tol(op: str, dtype: torch.dtype) -> dict:
    """Keyword arguments for ``torch.testing.assert_close``."""
    rtol, atol = TOLERANCES[(op, dtype)]
    return {"rtol": rtol, "atol": atol}

# Relative reconstruction error ||W - result||_F / ||W||_F of the exact decompositions
# (<= 1e-12 in float64, <= 1e-5 in float32).
RECONSTRUCTION = {torch.float64: 1e-12, torch.float32: 1e-5}

# The depth-separation construction against its closed form T^L, float64 (every operation of
# both is exact in binary floating point, so the bound is loose by design)
SAWTOOTH_CONSTRUCTION = 1e-12

# Solves of ill-conditioned but invertible DLoR matrices, as multiples of the dtype's eps:
# backward error ||M x - b|| / (||M||_2 ||x||) <= BACKWARD_EPS * eps, and forward error
# ||x - x_ref|| / ||x_ref|| <= FORWARD_EPS * eps * cond(M) (what a backward-stable solve gives)
BACKWARD_EPS = 32
FORWARD_EPS = 32

# Runs trained as one vmap computation against the same runs one at a time: the training
# losses agree to this relative tolerance (float32; the batched matmuls round differently)
BATCHED_RUNS_RTOL = 1e-5
