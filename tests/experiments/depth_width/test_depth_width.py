"""dlor reproduce expressivity at the tiny budget: files, claims and bad settings."""

import csv
import dataclasses
import json

import pytest

from dlor import DLoRError
from dlor.experiments._registry import RunContext, config_for, experiment
from dlor.experiments.depth_width import experiment as E


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("expressivity")
    return out, E.run(E.CONFIG.tiny(), out, RunContext(progress=False))


def test_tiny_writes_figures_csvs_and_claims(tiny):
    out, summary = tiny
    folder = out / "expressivity"
    for name in summary.figures + summary.data:
        assert (out / name).stat().st_size > 0, name
    assert len(summary.figures) == 3 and len(summary.claims) == 4  # the trained claim at tuned rates and at the paper rate
    rows = list(csv.DictReader((folder / "construction.csv").open()))
    assert [int(r["deep_pieces_counted"]) for r in rows] == [2**L for L in range(1, 7)]
    stored = json.loads((folder / "summary.json").read_text())
    assert stored["config"]["budget"] == "tiny"
    for c in summary.claims:
        assert c.verdict in ("confirmed", "partially confirmed", "not confirmed", "not judged")
        assert c.measured


def test_init_rows_cover_every_family_and_seed(tiny):
    out, _ = tiny
    rows = list(csv.DictReader((out / "expressivity" / "init_pieces.csv").open()))
    cfg = E.CONFIG.tiny()
    assert len(rows) == 3 * cfg.init_seeds * sum(len(ks) for _, ks in cfg.init_grid)
    assert all(int(r["pieces"]) <= int(r["regions"]) for r in rows)


def test_matched_dense_width_is_nearest():
    for params in (186, 626, 2274):
        w = E.matched_dense_width(params)
        assert all(abs(w * w + 4 * w + 1 - params) <= abs(v * v + 4 * v + 1 - params) for v in range(1, 80))


def test_registry_finds_the_experiment_by_name_and_artefact():
    assert experiment("expressivity") is experiment("appendix-d")
    cfg = config_for(experiment("expressivity"), "quick", seeds=4)
    assert cfg.seeds == 4 and cfg.budget == "quick"


@pytest.mark.parametrize(
    "override, match",
    [
        ({"max_depth": 0}, "max_depth"),
        ({"interval": (1.0, 1.0)}, "interval"),
        ({"seeds": 0}, "seeds"),
        ({"activations": ("tanh",)}, "unknown activation"),
        ({"frequencies": (-1.0,)}, "frequencies"),
        ({"error_fraction": 2.0}, "error_fraction"),
    ],
)
def test_bad_settings_are_refused(override, match):
    with pytest.raises(DLoRError, match=match):
        dataclasses.replace(E.CONFIG.tiny(), **override)


def test_unknown_setting_names_the_fields():
    with pytest.raises(DLoRError, match="has no setting"):
        config_for(experiment("expressivity"), "tiny", nonsense=1)
