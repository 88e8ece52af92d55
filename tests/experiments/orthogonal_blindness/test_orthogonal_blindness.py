"""Figure 5 at the quick budget: the rank-1 bound and the DLoR fit, measured."""

import csv
import json

import pytest

from dlor.experiments._context import RunContext
from dlor.experiments._summary import against_bound
from dlor.experiments.orthogonal_blindness import experiment as fig5


@pytest.mark.slow  # the quick budget; make reproduce runs it
def test_fig5_quick_budget_numbers(tmp_path):
    summary = fig5.run(fig5.Fig5Config.quick(), tmp_path, RunContext(progress=False))
    rows = list(csv.DictReader((tmp_path / "fig5" / "fig5_errors.csv").open()))
    bound = float(rows[0]["blindness_bound_min"])
    for row in rows:
        if row["model"] == "rank1":
            assert float(row["test_mse"]) >= 0.9 * bound
        else:
            assert float(row["test_mse"]) * 100 <= bound
    assert (tmp_path / "fig5" / "fig5_surfaces.png").stat().st_size > 10_000
    data = json.loads((tmp_path / "fig5" / "summary.json").read_text())
    assert [c["verdict"] for c in data["claims"]] == ["confirmed", "confirmed"]
    assert summary.figures == ["fig5/fig5_surfaces.png"]


def test_the_fit_sentence_says_above_or_below_as_its_numbers_do():
    assert against_bound(0.201, 0.0837) == "2.4x above the bound"
    assert against_bound(1e-4, 0.0837) == "837x below the bound"
    assert against_bound(0.0, 0.0837) == "zero, below the bound"


def test_the_tiny_run_states_its_threshold(tmp_path):
    summary = fig5.run(fig5.Fig5Config.tiny(), tmp_path, RunContext(progress=False))
    fit = summary.claims[1]
    assert "(threshold: at least 100x below)" in fit.measured
    above = "above the bound" in fit.measured
    assert not (above and fit.verdict == "confirmed")
