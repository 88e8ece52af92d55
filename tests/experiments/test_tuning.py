"""The shared rate-tuning rule: a grid extended past an edge at most three times, the choice on
a validation score, and a validation split carved from the training set alone."""

import math

import pytest
import torch

from dlor import DLoRError
from dlor.experiments._tuning import MAX_EXTENSIONS, log_grid, tune, validation_split


def bowl(optimum: float, calls: list):
    """Validation accuracy that peaks at ``optimum`` (higher is better), two tuning seeds."""

    def score(pairs):
        calls.append(list(pairs))
        return {(c, r): [-((math.log10(r) - math.log10(optimum)) ** 2)] * 2 for c, r in pairs}

    return score


def test_the_grid_is_log_spaced_around_the_paper_rate():
    assert log_grid() == pytest.approx([5e-4, 5e-3 / 10**0.5, 5e-3, 5e-3 * 10**0.5, 5e-2])


def test_an_interior_best_rate_is_chosen_without_extending():
    calls: list = []
    choice = tune(["a"], log_grid(), bowl(5e-3, calls), higher_is_better=True)["a"]
    assert choice.rate == pytest.approx(5e-3) and not choice.on_edge and choice.extensions == 0
    assert len(calls) == 1 and len(calls[0]) == 5  # the whole grid in one batch


def test_a_best_rate_on_an_edge_extends_the_grid_until_it_is_inside():
    calls: list = []
    choice = tune(["a"], log_grid(), bowl(2e-4, calls), higher_is_better=True)["a"]
    assert choice.rate == pytest.approx(5e-4 / 10**0.5) and not choice.on_edge and choice.extensions == 2
    assert len(choice.scores) == 7


def test_a_best_rate_still_on_an_edge_after_three_extensions_is_marked():
    choice = tune(["a"], log_grid(), bowl(1e-9, []), higher_is_better=True)["a"]
    assert choice.on_edge and choice.extensions == MAX_EXTENSIONS and len(choice.scores) == 5 + MAX_EXTENSIONS
    assert choice.rate == pytest.approx(min(choice.scores))


def test_cells_are_tuned_apart_and_a_loss_is_minimised():
    def loss(pairs):
        return {(c, r): [abs(math.log10(r) - math.log10(c))] for c, r in pairs}

    choices = tune([5e-4, 5e-2], log_grid(), loss, higher_is_better=False)
    assert choices[5e-4].rate == pytest.approx(5e-4) and choices[5e-2].rate == pytest.approx(5e-2)
    assert not choices[5e-4].on_edge and not choices[5e-2].on_edge  # each extended once, then inside


def test_a_diverged_run_never_wins():
    def score(pairs):
        return {(c, r): [math.nan if r > 1e-2 else -abs(math.log10(r) - math.log10(5e-3))] for c, r in pairs}

    assert tune(["a"], log_grid(), score, higher_is_better=True)["a"].rate == pytest.approx(5e-3)


def test_the_validation_split_is_disjoint_complete_and_fixed_by_its_seed():
    fit, val = validation_split(100, 0.2, seed=3)
    assert len(val) == 20 and len(fit) == 80
    assert sorted(torch.cat([fit, val]).tolist()) == list(range(100))
    assert torch.equal(validation_split(100, 0.2, seed=3)[1], val)
    assert not torch.equal(validation_split(100, 0.2, seed=4)[1], val)
    with pytest.raises(DLoRError):
        validation_split(1, 0.2)
