"""nearest_dlor's branch and bound against the previous SVD-per-evaluation global search.

The objective is ``||W - alpha I - U V^T||_F``; the fast search must reach the reference's
optimum to ``OBJECTIVE_RTOL`` relative (or ``EXACT_ATOL`` of ``||W||`` where the optimum is 0);
it may only do better (the reference's own global phase stops at 1e-3 relative).
"""

import zlib

import pytest
import torch

import dlor
from tests.tolerances import CLOSED_FORM, tol

from ._nearest_reference import reference_nearest_dlor

OBJECTIVE_RTOL = 1e-6
EXACT_ATOL = 1e-12


def _objective(M, W):
    return float(torch.linalg.norm(W - M.to_dense()))


def _structured(kind: str, m: int, n: int, gen) -> torch.Tensor:
    g = dict(dtype=torch.float64, generator=gen)
    if kind == "random":
        return torch.randn(m, n, **g)
    if kind == "identity+lowrank+noise":  # an identity component the search must find
        return (
            2.5 * torch.eye(m, n, dtype=torch.float64)
            + torch.randn(m, 4, **g) @ torch.randn(4, n, **g) / 2
            + 0.05 * torch.randn(m, n, **g)
        )
    if kind == "negative identity":
        return -1.5 * torch.eye(m, n, dtype=torch.float64) + torch.randn(m, n, **g) / 3
    if kind == "decaying spectrum":  # trained-weight-like: power-law singular values
        P = torch.linalg.qr(torch.randn(m, min(m, n), **g))[0]
        Q = torch.linalg.qr(torch.randn(n, min(m, n), **g))[0]
        s = torch.arange(1, min(m, n) + 1, dtype=torch.float64) ** -0.7
        return P @ torch.diag(s) @ Q.T
    if kind == "orthogonal":
        return torch.linalg.qr(torch.randn(max(m, n), max(m, n), **g))[0][:m, :n]
    raise ValueError(kind)


KINDS = ["random", "identity+lowrank+noise", "negative identity", "decaying spectrum", "orthogonal"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(24, 24), (40, 17), (17, 40), (96, 160)])
@pytest.mark.parametrize("rank", [1, 5])
def test_matches_the_svd_search(kind, shape, rank):
    gen = torch.Generator().manual_seed(zlib.crc32(repr((kind, shape, rank)).encode()))
    W = _structured(kind, *shape, gen)
    fast = _objective(dlor.nearest_dlor(W, rank), W)
    ref = _objective(reference_nearest_dlor(W, rank), W)
    assert fast <= ref * (1 + OBJECTIVE_RTOL) + EXACT_ATOL * float(torch.linalg.norm(W))


def test_exact_dlor_is_recovered_to_rounding():
    gen = torch.Generator().manual_seed(3)
    for m, n in [(50, 50), (30, 70), (70, 30)]:
        U = torch.randn(m, 3, dtype=torch.float64, generator=gen)
        V = torch.randn(n, 3, dtype=torch.float64, generator=gen)
        W = -0.8 * torch.eye(m, n, dtype=torch.float64) + U @ V.T
        M = dlor.nearest_dlor(W, 3)
        assert _objective(M, W) <= EXACT_ATOL * float(torch.linalg.norm(W))
        assert float(M.alpha) == pytest.approx(-0.8, abs=CLOSED_FORM["atol"])


def test_certificate_reports_the_search():
    W = torch.randn(30, 30, dtype=torch.float64) + torch.eye(30, dtype=torch.float64)
    M, cert = dlor.nearest_dlor(W, 2, return_certificate=True)
    assert cert.method == "gram-branch-and-bound"
    assert 0 <= cert.extras["optimality_gap"] <= 1e-3 * cert.reconstruction_error
    assert cert.extras["eigendecompositions"] >= 4
    expected = _objective(M, W) / float(torch.linalg.norm(W))
    assert cert.reconstruction_error == pytest.approx(expected, rel=tol("solve", torch.float64)["rtol"])


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(1024, 1024), (1024, 4096), (4096, 1024)])
def test_matches_the_svd_search_at_scale(kind, shape):
    """Up to 1024 x 4096 ; the reference takes minutes per matrix here."""
    gen = torch.Generator().manual_seed(zlib.crc32(repr((kind, shape)).encode()))
    W = _structured(kind, *shape, gen)
    fast = _objective(dlor.nearest_dlor(W, 16), W)
    ref = _objective(reference_nearest_dlor(W, 16, max_evals=60), W)
    assert fast <= ref * (1 + OBJECTIVE_RTOL) + EXACT_ATOL * float(torch.linalg.norm(W))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape,rank", [((40, 40), 3), ((30, 8), 1), ((8, 30), 2), ((64, 48), 8)])
def test_local_bounds_bracket_psi(kind, shape, rank):
    """_LocalBound's lower and upper bounds hold around its centre, near and far (the search's
    certificate rests on them); orthonormal columns give G = I and a vanishing coupling K."""
    from dlor.decompose._nearest import _LocalBound, _Profile

    gen = torch.Generator().manual_seed(zlib.crc32(repr((kind, shape, rank, "local")).encode()))
    W = _structured(kind, *shape, gen)
    A = W if shape[0] >= shape[1] else W.T
    k = min(shape)
    prof = _Profile(A, rank)
    sigma_max = float(torch.linalg.matrix_norm(A, 2))
    centre = prof.trace / k
    local = _LocalBound(prof, centre, min(2 * rank + 16, k // 2), 2 * sigma_max)
    for t in [0.0, 1e-6, -1e-4, 3e-3, -0.02, 0.1, -0.5, 2.0]:
        psi = float(torch.linalg.eigvalsh(prof.G - (centre + t) * prof.S)[-rank:].sum())
        lower, upper = local.bounds(centre + t)
        slack = 1e-12 * (1 + abs(psi))
        assert lower <= psi + slack and psi <= upper + slack, (t, lower, psi, upper)
        X = local.frame(centre + t)  # the Ritz frame reaches the lower bound
        assert abs(float((X * ((prof.G - (centre + t) * prof.S) @ X)).sum()) - lower) <= slack
