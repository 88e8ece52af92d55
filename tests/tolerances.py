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

# Bit-for-bit equality (resumed training, reshuffled orders, a state dict loaded back)
EXACT = {"rtol": 0, "atol": 0}

# A whole pretrained network in float32 against another path to the same function (compiled
# against eager, DLoR layers against the dense ones they equal): rounding compounds over layers
NETWORK_FLOAT32 = {"rtol": 1e-4, "atol": 1e-5}

# Two float64 trainings that differ only in the order of their reductions (two processes under
# DDP against one): a few hundred operations of float64 rounding, compounded over the steps
TRAINING_FLOAT64 = {"rtol": 1e-10, "atol": 1e-12}

# The vectorized trainer against torch.optim.Adam + ReduceLROnPlateau model by model, float64:
# max |theta - theta_ref| / max |theta_ref| after the run (Adam's division amplifies rounding)
TRAINER_VS_TORCH = 1e-6

# The same float32 sweep in worker processes of one thread against one process: GEMM sums
# split differently, and training amplifies that rounding
WORKER_PROCESSES_RTOL = 1e-4

# A closed form that floating point computes to the last bit or nearly (float64): breakpoints
# of exact piecewise-linear functions, a bound that is exactly zero
CLOSED_FORM = {"rtol": 1e-12, "atol": 1e-12}
EXACT_ZERO_ABS = 1e-15

# Reconstruction of a matrix moved by `perturb` (it is close to the input, not equal to it)
PERTURBED_RECONSTRUCTION = 1e-6

# The literal Appendix C.3 decomposition (a random basis and no pivoting): accurate to this
# relative reconstruction error in float64, well short of the stable methods' RECONSTRUCTION
PAPER_METHOD_RECONSTRUCTION = 1e-6
