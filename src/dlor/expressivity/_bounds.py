r"""How many linear pieces a wide DLoR network can have, and what reaching ``2^L`` pieces costs it.

The wide family of Appendix H.2 with ReLU, scalar input, width ``N``, ``k`` branches of rank ``r``:

    h = relu(w x + c),   z_l = relu(U_l V_l^T h + b_l),   y = W_out relu(sum_l alpha_l z_l + b) + b_out.

**Bound.** Count breakpoints layer by layer. ``h`` has at most ``B_0 = N`` (one per unit). A
piecewise-linear function with ``B`` breakpoints has ``B + 1`` affine pieces and changes sign at
most once on each, so each of the ``k N`` branch units adds at most ``B_0 + 1`` breakpoints:
``B_1 <= B_0 + k N (B_0 + 1)``. Each of the ``N`` units of the sum adds at most ``B_1 + 1``:
``B_2 <= B_1 + N (B_1 + 1)``. The output layer is affine. Hence

    pieces <= B_2 + 1 = (N + 1)(B_1 + 1) <= (N + 1)^2 (1 + k N),

linear in ``k``: width buys pieces polynomially (here linearly per branch), while the deep
network of [`sawtooth_network`][dlor.expressivity.sawtooth_network] doubles them with every component. The
rank ``r`` does not enter: the bound is per unit.

**Parameters** of that wide network: ``2N`` (input) ``+ k (2 N r + N + 1)`` (factors, biases,
``alpha_l``) ``+ N`` (``b``) ``+ N + 1`` (output) ``= 4 N + 1 + k (2 N r + N + 1)``, Table 1's "Wide"
row at ``N = 16``.

Paper: Appendix D; the construction of the bound follows Montufar et al. 2014 and Serra et al. 2018.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._errors import DLoRError

__all__ = ["wide_piece_bound", "wide_params", "deep_params", "smallest_wide_network", "WideSize"]


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DLoRError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def wide_piece_bound(k: int, width: int) -> int:
    """``(N + 1)^2 (1 + k N)``: the most linear pieces a scalar-input wide DLoR network with ReLU,
    ``k`` branches and width ``N`` can have on any interval (module docstring)."""
    k, N = _positive_int("k", k), _positive_int("width", width)
    return (N + 1) ** 2 * (1 + k * N)


def wide_params(k: int, width: int, rank: int) -> int:
    """Parameters of the wide family (Appendix H.2): ``4 N + 1 + k (2 N r + N + 1)``."""
    k, N, r = _positive_int("k", k), _positive_int("width", width), _positive_int("rank", rank)
    return 4 * N + 1 + k * (2 * N * r + N + 1)


def deep_params(k: int, width: int, rank: int, shared_alpha: bool = True) -> int:
    """Parameters of the deep family (Appendix H.2): ``3 N + 1`` (input, output) ``+ k (2 N r + N)``
    ``+ 1`` (one shared ``alpha``; ``k`` of them when ``shared_alpha`` is False)."""
    k, N, r = _positive_int("k", k), _positive_int("width", width), _positive_int("rank", rank)
    return 3 * N + 1 + k * (2 * N * r + N) + (1 if shared_alpha else k)


@dataclass(frozen=True)
class WideSize:
    """A wide network's shape and size: ``k`` branches of rank 1, width ``N``."""

    k: int
    width: int
    params: int
    bound: int  # wide_piece_bound(k, width)


def smallest_wide_network(pieces: int, max_width: int = 4096) -> WideSize:
    """The wide DLoR network with the fewest parameters whose bound allows ``pieces`` pieces.

    Rank 1 (the cheapest branch); for each width ``N <= max_width`` the fewest branches ``k``
    with ``wide_piece_bound(k, N) >= pieces``, then the ``(N, k)`` of fewest parameters. Every
    wide network with fewer parameters has fewer pieces than ``pieces``, for any weights.
    """
    pieces = _positive_int("pieces", pieces)
    best: WideSize | None = None
    for N in range(1, _positive_int("max_width", max_width) + 1):
        need = pieces / (N + 1) ** 2 - 1  # k N >= need
        k = max(1, math.ceil(need / N)) if need > 0 else 1
        while wide_piece_bound(k, N) < pieces:  # guard against rounding in the division
            k += 1
        size = WideSize(k, N, wide_params(k, N, 1), wide_piece_bound(k, N))
        if best is None or size.params < best.params:
            best = size
    assert best is not None
    return best
