"""The Section 6.2 sweep at tuned rates: each cell's rate chosen on points held out of its training
set (never the test points), the paper-rate and tuned members of one group told apart by their
rate, and no tuned verdict on a k whose best rate stays on an edge of its grid."""

import pytest
import torch

from dlor.experiments import _sweep
from dlor.experiments._context import RunContext
from dlor.experiments._data import sawtooth_data
from dlor.experiments._sweep import group_data
from dlor.experiments._tuning import Choice
from dlor.experiments.section6_training import experiment as ex
from dlor.experiments.section6_training import rates
from tests._validation_split import assert_held_out_of_the_training_set


def test_a_tuning_group_never_sees_the_test_points():
    cfg = ex.SweepConfig.tiny()
    data = group_data(rates.cell_group(cfg, ("deep", 4), [1000, 1000], [1e-3, 1e-2], tag="tune1", validation=0.2))
    full = sawtooth_data(split=cfg.split, seed=cfg.split_seed)
    assert_held_out_of_the_training_set(data, full, 0.2)


def test_the_paper_rate_groups_keep_their_names_and_rate():
    cfg = ex.SweepConfig.tiny()
    groups = ex._groups(cfg)
    assert [g.name for g in groups] == [
        "deep_k1", "deep_k4", "wide_k1", "wide_k4", "dense_w16_baseline", "dense_w22_matched_k1", "dense_w23_matched_k4"
    ]  # fmt: skip
    assert all(g.lrs is None for g in groups)


def test_a_cell_at_another_rate_trains_a_group_of_its_own():
    cfg = ex.SweepConfig.tiny()
    assert rates.tuned_group(cfg, ("wide", 4), Choice(rate=rates.PAPER_RATE, on_edge=False, extensions=0)) is None
    other = rates.tuned_group(cfg, ("wide", 4), Choice(rate=1.58e-2, on_edge=False, extensions=0))
    assert other.name == "wide_k4_lr0.0158" and other.lrs == [1.58e-2] * cfg.tuned_seeds
    names = [g.name for g in ex._groups(cfg, {cell: Choice(1.58e-2, False, 0) for cell in rates.cells(cfg)})]
    assert names[:7] == [g.name for g in ex._groups(cfg)]  # the paper-rate groups stay as they were


def _rows(arch, k, lr, seed=0):
    return {"arch": arch, "k": k, "seed": seed, "lr": lr}


def test_the_readings_are_told_apart_by_rate_and_an_edge_k_is_left_out():
    choices = {
        ("deep", 1): Choice(rate=1.58e-2, on_edge=False, extensions=0),
        ("wide", 1): Choice(rate=rates.PAPER_RATE, on_edge=False, extensions=0),
        ("deep", 4): Choice(rate=5e-2, on_edge=True, extensions=3),
        ("wide", 4): Choice(rate=1.58e-3, on_edge=False, extensions=0),
        ("dense", None): Choice(rate=5e-4, on_edge=False, extensions=0),
    }
    rows = [_rows(a, k, lr) for (a, k), c in choices.items() for lr in {rates.PAPER_RATE, c.rate}]
    rows.append({"arch": "dense", "k": None, "seed": 0, "matched_k": 1})  # Figure 6: paper rate, no "lr"
    rows.append(_rows("wide", 1, rates.PAPER_RATE, seed=7))  # a paper-rate seed past the tuned reading's
    got = rates.reading_rows(rows, choices, tuned_seeds=5)
    assert len(got["paper-rate"]) == 7 and all(r.get("lr", rates.PAPER_RATE) == rates.PAPER_RATE for r in got["paper-rate"])
    tuned = {(r["arch"], r["k"], r["lr"]) for r in got["tuned"]}
    assert tuned == {("deep", 1, 1.58e-2), ("wide", 1, rates.PAPER_RATE), ("dense", None, 5e-4)}  # k = 4 left out


def _choose(tmp_path, monkeypatch, test_shift: float):
    real = _sweep.sawtooth_data

    def shifted(**kw):
        data = dict(real(**kw))
        g = torch.Generator().manual_seed(7)
        data["y_test"] = data["y_test"] + test_shift * torch.randn(data["y_test"].shape, generator=g)
        return data

    monkeypatch.setattr(_sweep, "sawtooth_data", shifted)
    cfg = ex.SweepConfig.tiny()
    return ex.run(cfg, tmp_path, RunContext(progress=False))


def test_changing_the_test_points_changes_no_chosen_rate_and_no_tuned_verdict_rests_on_an_edge(tmp_path, monkeypatch):
    a = _choose(tmp_path / "a", monkeypatch, 0.0)
    b = _choose(tmp_path / "b", monkeypatch, 0.5)
    chosen = a.tables["Chosen rates (tuned reading)"]
    assert chosen == b.tables["Chosen rates (tuned reading)"]
    tuned = {c.id: c for c in a.claims if c.id.endswith("-tuned")}
    assert len(tuned) == 4
    assert [c.values for c in a.claims] != [c.values for c in b.claims]  # the test points did change
    edge = {(c["family"], c["k"]) for c in chosen if c["rate_on_edge"]}
    for c in chosen:
        assert f"{c['chosen_rate']:.3g}" in c["grid"].split()  # chosen among the rates it tried
    judged_ks = {k for (arch, k) in [(c["family"], c["k"]) for c in chosen] if arch != "dense"} - {k for _, k in edge}
    assert tuned["training.deep-beats-wide-tuned"].evidence.get("k values", 0) == len(judged_ks)


@pytest.mark.parametrize("reading", ["paper-rate", "tuned"])
def test_each_claim_says_its_reading(reading):
    words, suffix = ex.READINGS[reading]
    claims = ex._figure4_claims([], [], ex.SweepConfig.tiny(), "test_mse_at_10", reading, unjudged=["deep k = 1"])
    assert all(words in c.claim and c.id.endswith(suffix) for c in claims)
    assert all(c.verdict == "not judged" and "deep k = 1" in c.measured for c in claims)  # nothing left to judge
