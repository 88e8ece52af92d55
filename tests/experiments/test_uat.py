"""The H.1 construction experiment (Figures 2(a,b), 3(a,b)): the issue's goals, measured."""

import csv

from dlor.experiments import uat


def test_uat_goals(tmp_path):
    summary = uat.run(tmp_path, budget="quick", progress=False)
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
