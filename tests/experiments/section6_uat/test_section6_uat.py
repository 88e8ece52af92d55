"""The H.1 construction experiment (Figures 2(a,b), 3(a,b)): the library's accuracy goals, measured."""

import csv

import pytest

from dlor.experiments._context import RunContext
from dlor.experiments.section6_uat import experiment as uat


@pytest.mark.slow  # the quick (= paper) budget of H.1; `make reproduce` runs it too
def test_uat_goals(tmp_path):
    summary = uat.run(uat.UATConfig.quick(), tmp_path, RunContext(progress=False))
    best = {(r["dtype"], r["arch"], r["scheme"]): r for r in csv.DictReader((tmp_path / "uat" / "uat_best_errors.csv").open())}
    for arch in ("deep", "wide"):
        paper = float(best[("float64", arch, "paper")]["best_error"])
        lib = float(best[("float64", arch, "best")]["best_error"])
        auto = float(best[("float64", arch, "best")]["auto_error"])
        assert lib * 10 <= paper
        assert auto <= 3 * lib
        assert auto <= 1e-5
        assert ("float32", arch, "best") in best  # the single-precision table is reported too
    for fig in summary.figures:
        assert (tmp_path / fig).stat().st_size > 10_000


def test_h1_verdicts_follow_their_stated_thresholds(tmp_path):
    """The H.1 rows name their threshold, and the verdict agrees with the number."""
    summary = uat.run(uat.UATConfig.tiny(), tmp_path, RunContext(progress=False))
    cfg = uat.UATConfig.tiny()
    rows = {c.claim: c for c in summary.claims}
    approx = next(c for k, c in rows.items() if k.startswith("The trained H.1 MLP approximates"))
    follow = next(c for k, c in rows.items() if k.startswith("Once the MLP approximates"))
    mse = summary.config["mlp_test_mse"]
    assert f"threshold {cfg.approximates_mse:g}" in approx.measured
    assert (approx.verdict == "confirmed") == (mse <= cfg.approximates_mse)
    assert (follow.verdict == "not judged") == (mse > cfg.approximates_mse)
    assert len(summary.tables["H.1 MLP candidates (the lowest training MSE is kept)"]) == cfg.candidates
