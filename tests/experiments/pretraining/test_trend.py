"""The size trend's bootstrap and crossing, and the length and SLTrain verdicts, on numbers whose
answers are known."""

import math
from types import SimpleNamespace

import pytest

from dlor.experiments.pretraining import trend
from dlor.experiments.pretraining.claims import LENGTH_KEPT, _length_claim, _sltrain_claim

CFG = SimpleNamespace(bootstrap=200, crossing_span=100.0, widths=(1, 2, 3), length_widths=(64,), seeds=3)


def test_exact_power_laws_give_their_exponents_and_a_collapsed_interval():
    sizes = {1: 1e4, 2: 1e5, 3: 1e6}
    params = {(w, v): n for w, n in sizes.items() for v in ("lowrank", "dlor")}
    law = {"lowrank": (3.0, 0.3), "dlor": (2.0, 0.2)}
    losses = {(w, v): [law[v][0] * n ** -law[v][1]] * 3 for (w, v), n in params.items()}
    rows, crossing = trend.bootstrap(CFG, losses, params, ("lowrank", "dlor"))
    for r in rows:
        assert r["exponent_b"] == pytest.approx(law[r["variant"]][1])
        assert r["b_low"] == pytest.approx(r["b_high"])
    expected = (3.0 / 2.0) ** (1 / 0.1)  # where 3 N^-0.3 = 2 N^-0.2: 57.7, below the largest size
    assert expected < 1e6 and math.isinf(crossing["point"]) and crossing["share_ahead"] == 0.0


def test_a_crossing_ahead_is_found_and_counted_within_the_span():
    sizes = {1: 10.0, 2: 20.0, 3: 40.0}
    params = {(w, v): n for w, n in sizes.items() for v in ("lowrank", "dlor")}
    law = {"lowrank": (3.0, 0.3), "dlor": (2.0, 0.2)}  # they meet at 57.7 parameters: 1.44x the largest
    losses = {(w, v): [law[v][0] * n ** -law[v][1]] * 3 for (w, v), n in params.items()}
    _, crossing = trend.bootstrap(CFG, losses, params, ("lowrank", "dlor"))
    assert crossing["point"] == pytest.approx(1.5**10)
    assert crossing["median"] == pytest.approx(1.5**10) and crossing["share_within_span"] == 1.0


def test_the_bootstrap_is_the_same_on_every_run():
    params = {(w, v): 10.0 ** (3 + w) for w in (1, 2, 3) for v in ("lowrank", "dlor")}
    losses = {(w, v): [3.0 - 0.2 * w + 0.05 * s for s in range(3)] for (w, v) in params}
    assert trend.bootstrap(CFG, losses, params, ("dlor",)) == trend.bootstrap(CFG, losses, params, ("dlor",))


def _gap(per, gap, iqr, edge=False):
    return {"width": 64, "tokens_per_param": per, "lowrank_minus_dlor": gap, "iqr": iqr, "rate_on_edge": edge}


@pytest.mark.parametrize(
    ("long_gap", "verdict"),
    [(0.15, "confirmed"), (0.05, "partially confirmed"), (0.01, "not confirmed")],
)
def test_the_length_verdict_follows_its_threshold(long_gap, verdict):
    claim = _length_claim(CFG, [_gap(10, 0.2, 0.02), _gap(40, 0.1, 0.02), _gap(160, long_gap, 0.02)])
    assert claim.verdict == verdict  # confirmed: above the IQR and >= LENGTH_KEPT of the shortest's gap
    assert long_gap >= LENGTH_KEPT * 0.2 or verdict != "confirmed"
    if verdict == "not confirmed":
        assert "an optimisation effect at this size" in claim.measured


def test_a_length_trend_with_a_rate_on_an_edge_is_not_judged():
    claim = _length_claim(CFG, [_gap(10, 0.2, 0.02), _gap(160, 0.2, 0.02, edge=True)])
    assert claim.verdict == "not judged" and "width 64 not judged" in claim.measured


def _row(v, med, spread=0.01, edge=False):
    half = spread / 2
    return {"variant": v, "val_nats_median": med, "val_nats_q25": med - half, "val_nats_q75": med + half, "rate_on_edge": edge}


def test_dlor_matches_sltrain_within_the_iqr():
    by = {(1, "dlor"): _row("dlor", 2.0), (1, "sparse+lowrank"): _row("sparse+lowrank", 1.995)}  # 0.005 above, IQR 0.01
    by |= {(2, "dlor"): _row("dlor", 2.1), (2, "sparse+lowrank"): _row("sparse+lowrank", 2.0)}  # 0.1 above: beaten
    by |= {(3, "dlor"): _row("dlor", 2.0), (3, "sparse+lowrank"): _row("sparse+lowrank", 2.0, edge=True)}
    claim = _sltrain_claim(CFG, by, unigram=3.3)
    assert claim.verdict == "partially confirmed" and "at 1/2 judged sizes" in claim.measured
    assert "width 3 not judged" in claim.measured
