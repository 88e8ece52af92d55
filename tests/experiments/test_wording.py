"""The words of a verdict sentence follow its numbers: above or below, grows or shrinks, + or -."""

import pytest

from dlor.experiments._summary import WORDINGS, against_bound
from dlor.experiments.finetune import claims as _finetune_claims  # noqa: F401 - registers its wordings
from dlor.experiments.pretraining.claims import size_trend


@pytest.mark.parametrize(
    "value, bound, words",
    [(0.201, 0.0837, "2.4x above the bound"), (1e-4, 0.0837, "837x below the bound"), (0.0, 1.0, "zero, below the bound")],
)
def test_against_a_bound(value, bound, words):
    assert against_bound(value, bound) == words


@pytest.mark.parametrize("change, words", [(0.05, "grows"), (-0.05, "shrinks"), (0.005, "holds"), (-0.005, "holds")])
def test_a_size_trend_follows_its_change(change, words):
    assert size_trend(change, 0.01) == words
    text = WORDINGS["lm.size-trend"](
        margin=0.01, skipped=[], first=[32, 1000, 0.2], last=[128, 9000, 0.2 + change], exponents=[["dlor", 0.17]]
    )
    assert f"so the advantage {words}" in text and f"a change of {change:+.4f}" in text


def test_a_difference_carries_its_sign():
    text = WORDINGS["finetune.versus"](name="LoRA", ranks=[[4, 2.0, 2.1, 0.01]], floor=2.5, wins=0, judged=1, unjudged=[])
    assert "(-0.1000; band 0.0100)" in text  # DLoR's loss is higher: the difference is negative
    text = WORDINGS["finetune.lora-struggles"](rank=16, code=0.865, prose=0.841, band=0.011)
    assert "(difference -2.4%;" in text


def test_the_fit_sentence_says_above_when_the_error_is_above_the_bound():
    import dlor.experiments.orthogonal_blindness.experiment  # noqa: F401 - registers its wordings

    assert "2.4x above the bound" in WORDINGS["fig5.dlor-fits"](highest=0.201, bound=0.0837, factor=100)
