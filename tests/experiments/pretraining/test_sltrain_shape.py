"""SLTrain's sparse plus low-rank GPT matched to DLoR's parameter count within 1%."""

import pytest

from dlor import DLoRError
from dlor.experiments.pretraining.shapes import SLTRAIN_DENSITY, SLTRAIN_TOLERANCE, matched_sltrain
from dlor.lm import GPT, GPTConfig


@pytest.mark.parametrize("width", [32, 64, 128])
def test_sparse_lowrank_matches_dlor_within_one_percent(width):
    dlor = GPTConfig(variant="dlor", n_layer=2, n_head=4, n_embd=width, block_size=64, rank=width // 4)
    target = GPT(dlor).num_params()
    sparse = matched_sltrain(target, dlor)
    assert sparse.variant == "sparse+lowrank" and sparse.rank <= dlor.rank
    assert abs(GPT(sparse).num_params() - target) <= SLTRAIN_TOLERANCE * target
    # the rule: no other rank has a density closer to SLTrain's 0.03
    assert abs(sparse.density - SLTRAIN_DENSITY) < 0.025


def test_a_budget_too_small_for_any_sparse_part_is_refused():
    dlor = GPTConfig(variant="dlor", n_layer=1, n_head=2, n_embd=8, block_size=16, rank=2)
    lowrank_at_one = GPT(GPTConfig(variant="lowrank", n_layer=1, n_head=2, n_embd=8, block_size=16, rank=1)).num_params()
    with pytest.raises(DLoRError, match="no sparse\\+lowrank GPT"):
        matched_sltrain(lowrank_at_one - 1, dlor)
