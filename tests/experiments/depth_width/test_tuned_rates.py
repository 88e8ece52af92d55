"""Appendix D at tuned rates: rates chosen on validation points carved from the training set, and
no verdict on a (frequency, activation) cell whose best rate stays on an edge of its grid."""

from dlor.experiments._data import sawtooth_data
from dlor.experiments._sweep import group_data
from dlor.experiments.depth_width import experiment as ex
from dlor.experiments.depth_width.claims import _trained_claim
from tests._validation_split import assert_held_out_of_the_training_set


def test_a_tuning_group_never_sees_the_test_points():
    cfg = ex.ExpressivityConfig.tiny()
    cell = ex.cells(cfg)[0]
    data = group_data(ex.cell_group(cfg, cell, [1000, 1000], [1e-3, 1e-2], tag="tune1", validation=0.2))
    full = sawtooth_data(split=cfg.split, seed=0, frequency=cell[0])
    assert_held_out_of_the_training_set(data, full, 0.2)


def test_the_paper_rate_groups_keep_their_names_and_rate():
    cfg = ex.ExpressivityConfig.tiny()
    names = [g.name for g in ex.trained_groups(cfg)]
    assert names == ["deep_k4_w8_f3.7_relu", "wide_k4_w8_f3.7_relu", "dense_w12_f3.7_relu"]  # the cached runs' names
    assert all(g.lrs is None for g in ex.trained_groups(cfg))


def _tables(reached: bool):
    per = [{"test_mse_median": 0.001 if reached else 0.08} for _ in range(3)]
    smallest = [
        {"frequency": 3.7, "activation": "relu", "family": f, "smallest_budget_index": 0 if reached and f == "deep" else None,
         "smallest_params_reaching": 186 if reached and f == "deep" else None}
        for f in ("deep", "wide", "dense")
    ]  # fmt: skip
    return per, smallest


def test_a_cell_whose_best_rate_is_on_an_edge_is_not_judged():
    cfg = ex.ExpressivityConfig.tiny()
    per, smallest = _tables(reached=True)
    assert _trained_claim(per, smallest, cfg, set(), "tuned").verdict == "confirmed"
    edge = _trained_claim(per, smallest, cfg, {(3.7, "relu")}, "tuned")
    assert edge.verdict == "not judged" and "1 (lambda, activation) cell(s) not judged" in edge.measured
    assert edge.id == "expressivity.trained-fewer-parameters"
    paper = _trained_claim(per, smallest, cfg, set(), "paper-rate")  # the paper-rate reading has no grid
    assert paper.verdict == "confirmed" and paper.id == "expressivity.trained-fewer-parameters-paper-rate"
