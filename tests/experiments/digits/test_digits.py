"""The digits comparison at tuned rates: rates chosen on a validation split of the training
images, never on the test images, and no verdict on a budget whose best rate sits on an edge."""

import torch

from dlor.experiments._context import RunContext
from dlor.experiments.digits import experiment as digits


def _run(tmp_path, monkeypatch, test_shift: float):
    real = digits.load_digits_split

    def split(seed: int = 0):
        Xtr, ytr, Xte, yte = real(seed)
        g = torch.Generator().manual_seed(7)
        return Xtr, ytr, (Xte + test_shift * torch.randn(Xte.shape, generator=g)).clamp(0, 1), yte.flip(0)

    monkeypatch.setattr(digits, "load_digits_split", split)
    return digits.run(digits.RealDataConfig.tiny(), tmp_path, RunContext(progress=False))


def test_changing_the_test_images_changes_no_chosen_rate(tmp_path, monkeypatch):
    a = _run(tmp_path / "a", monkeypatch, 0.0)
    b = _run(tmp_path / "b", monkeypatch, 0.5)
    assert a.tables["chosen rates"] == b.tables["chosen rates"]
    table = a.tables["test accuracy (mean over fresh seeds, each family at its tuned rate)"]
    other = b.tables["test accuracy (mean over fresh seeds, each family at its tuned rate)"]
    assert [t["dlor_acc_mean"] for t in table] != [t["dlor_acc_mean"] for t in other]  # the test images did change


def test_no_verdict_rests_on_a_rate_at_an_edge(tmp_path, monkeypatch):
    summary = _run(tmp_path, monkeypatch, 0.0)
    chosen = summary.tables["chosen rates"]
    table = summary.tables["test accuracy (mean over fresh seeds, each family at its tuned rate)"]
    for row in table:
        edge = any(c["rate_on_edge"] for c in chosen if c["rank"] == row["rank"])
        assert row["judged"] == (not edge)
    for c in chosen:
        assert f"{c['chosen_rate']:.3g}" in c["grid"].split()  # chosen among the rates it tried


def test_a_budget_with_an_edge_rate_is_not_judged():
    table = [
        {"rank": 1, "judged": True, "dlor_acc_mean": 0.9, "lowrank_acc_mean": 0.5, "dense_acc_mean": 0.8},
        {"rank": 2, "judged": False, "dlor_acc_mean": 0.1, "lowrank_acc_mean": 0.9, "dense_acc_mean": 0.9},
    ]
    claims = digits._claims(table, {"budgets": 1, "seeds": 1})
    assert [c.verdict for c in claims] == ["confirmed", "confirmed"]
    assert "1 budget(s) not judged" in claims[0].measured and "1/1 judged budgets" in claims[0].measured
    none = digits._claims([table[1]], {"budgets": 0, "seeds": 1})
    assert [c.verdict for c in none] == ["not judged", "not judged"]
