"""The wide network's piece bound and what reaching 2^L pieces costs it."""

import pytest
import torch

from dlor import DLoRError
from dlor.expressivity import (
    count_pieces,
    deep_params,
    sawtooth_network,
    sawtooth_network_params,
    smallest_wide_network,
    wide_params,
    wide_piece_bound,
)
from dlor.nn import DeepDLoR, WideDLoR, rank_for


@pytest.mark.parametrize("k", [1, 2, 4, 8, 16])
def test_parameter_formulas_match_the_modules(k):
    r = rank_for(k)
    assert wide_params(k, 16, r) == sum(p.numel() for p in WideDLoR(k).parameters())
    assert deep_params(k, 16, r) == sum(p.numel() for p in DeepDLoR(k).parameters())


@pytest.mark.parametrize("L", [1, 4, 9])
def test_sawtooth_parameter_count(L):
    assert sawtooth_network_params(L) == sum(p.numel() for p in sawtooth_network(L).parameters()) + L  # alpha is a buffer


@pytest.mark.parametrize("k, width", [(1, 3), (4, 4), (8, 6), (16, 5)])
def test_bound_holds_for_random_wide_networks(k, width):
    for seed in range(5):
        torch.manual_seed(seed)
        model = WideDLoR(k, width=width, activation="relu").double()
        with torch.no_grad():  # larger biases spread the breakpoints over the interval
            for p in (model.inp.bias, model.b_branch, model.b):
                p.mul_(4.0)
        got = count_pieces(model, (-50.0, 50.0))
        assert got.regions <= wide_piece_bound(k, width)


def test_smallest_wide_network_is_smallest():
    for pieces in (2, 100, 5000):
        best = smallest_wide_network(pieces)
        assert best.bound >= pieces
        for N in range(1, 80):  # brute force over small shapes
            for k in range(1, 60):
                if wide_piece_bound(k, N) >= pieces:
                    assert wide_params(k, N, 1) >= best.params


def test_wide_needs_exponentially_many_parameters_for_the_sawtooth():
    sizes = [smallest_wide_network(2**L).params for L in (10, 15, 20)]
    assert sizes[0] < sizes[1] < sizes[2]
    assert sizes[2] / sizes[1] > 2 ** (5 * 0.2)  # the experiment's growth threshold, 0.2 bits per L
    assert sawtooth_network_params(20) < sizes[2]


@pytest.mark.parametrize(
    "call",
    [
        lambda: wide_piece_bound(0, 4),
        lambda: wide_params(2, 0, 1),
        lambda: smallest_wide_network(0),
        lambda: deep_params(1, 4, -1),
    ],
)
def test_bad_sizes_are_refused(call):
    with pytest.raises(DLoRError, match=">= 1"):
        call()
