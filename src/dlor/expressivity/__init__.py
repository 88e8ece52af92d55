r"""Depth against width in the DLoR family, exactly (Appendix D).

* [`count_pieces`][dlor.expressivity.count_pieces]: the exact linear pieces of a scalar-input ReLU network on an interval,
  from its weights (no sampling);
* [`sawtooth_network`][dlor.expressivity.sawtooth_network]: ``L`` rank-1 DLoR components that equal
  the ``2^L``-piece sawtooth;
* [`wide_piece_bound`][dlor.expressivity.wide_piece_bound] and
  [`smallest_wide_network`][dlor.expressivity.smallest_wide_network]: what a wide network can reach.
"""

from ._bounds import WideSize as WideSize
from ._bounds import deep_params as deep_params
from ._bounds import smallest_wide_network as smallest_wide_network
from ._bounds import wide_params as wide_params
from ._bounds import wide_piece_bound as wide_piece_bound
from ._count import SLOPE_RTOL as SLOPE_RTOL
from ._count import PieceCount as PieceCount
from ._count import count_pieces as count_pieces
from ._program import relu_program as relu_program
from ._sawtooth import sawtooth_network as sawtooth_network
from ._sawtooth import sawtooth_network_params as sawtooth_network_params
from ._sawtooth import tent_power as tent_power

__all__ = [
    "PieceCount",
    "SLOPE_RTOL",
    "WideSize",
    "count_pieces",
    "deep_params",
    "relu_program",
    "sawtooth_network",
    "sawtooth_network_params",
    "smallest_wide_network",
    "tent_power",
    "wide_params",
    "wide_piece_bound",
]
