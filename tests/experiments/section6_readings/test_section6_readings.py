"""The protocol-sensitivity study: it runs, writes its figure and table, and picks its default
by the stated criteria and preference only."""

import csv

from dlor.experiments._context import RunContext
from dlor.experiments._data import sawtooth_data
from dlor.experiments.section6_readings import experiment as protocol
from dlor.experiments.section6_uat import experiment as uat


def test_protocol_tiny_writes_figure_table_and_claims(tmp_path):
    summary = protocol.run(protocol.ProtocolConfig.tiny(), tmp_path, RunContext(progress=False))
    cfg = protocol.ProtocolConfig.tiny()
    table = list(csv.DictReader((tmp_path / "protocol" / "protocol_table.csv").open()))
    assert len(table) == len(cfg.batch_sizes) * len(cfg.splits) * len(cfg.inits)
    assert {(r["batch_size"], r["split"], r["init"]) for r in table} == {
        ("full" if b is None else str(b), s, i) for b in cfg.batch_sizes for s in cfg.splits for i in cfg.inits
    }
    assert (tmp_path / "protocol" / "protocol_grid.png").stat().st_size > 10_000
    rows = list(csv.DictReader((tmp_path / "protocol" / "runs.csv").open()))
    # every reading trained deep, wide (each init) and dense (inits do not apply) with its seeds
    per_reading = len(cfg.ks) * 2 * len(cfg.inits) * cfg.seeds + cfg.seeds + cfg.h1_candidates
    assert len(rows) == len(cfg.batch_sizes) * len(cfg.splits) * per_reading
    assert len(summary.claims) == 5
    for c in summary.claims[1:]:  # no model comparison is judged when no reading qualifies
        assert (c.verdict == "not judged") == (summary.config["default"] is None)
    for r in table:  # a reading qualifies exactly when both of its checks pass
        assert (r["qualifies"] == "True") == (r["h1_approximates"] == "True" and r["dense_learns"] == "True")
    # the H.1 check judges the very MLPs that Figure 2 trains under that reading, to the last bit
    for bs in cfg.batch_sizes:
        uat_cfg = uat.UATConfig(
            epochs=cfg.h1_epochs,
            lr=cfg.h1_lr,
            candidates=cfg.h1_candidates,
            batch_size=bs,
            split="random",
            split_seed=cfg.split_seed,
        )
        _, candidates = uat.train_mlp(uat_cfg, sawtooth_data(split="random", seed=cfg.split_seed), progress=False)
        h1 = [
            r
            for r in rows
            if r.get("h1") == "True" and r["split"] == "random" and r["batch_size"] == ("full" if bs is None else str(bs))
        ]
        assert [float(r["train_mse_final"]) for r in h1] == [c["train_mse"] for c in candidates]


def _reading(bs, split, init, ok, h1=None):
    return {"batch_size": bs, "split": split, "init": init, "qualifies": ok, "h1_approximates": ok if h1 is None else h1}


def test_default_is_the_first_qualifying_reading_in_the_preference_order():
    table = [
        _reading("full", "random", "library", True),
        _reading("16", "random", "library", True),
        _reading("32", "interleaved", "h1-linear", True),
        _reading("32", "random", "library", False),
        _reading("64", "random", "library", True),
    ]
    assert protocol.choose_default(table)["batch_size"] == "32"  # 32 first, even with a less preferred split
    assert protocol.choose_default(table)["split"] == "interleaved"
    assert protocol.choose_default(table)["rule"] == "H.1 MLP approximates and dense learns"
    assert protocol.choose_default([_reading("full", "random", "library", False)]) is None
    # no reading lets dense learn: fall back to the readings whose H.1 MLP approximates
    fallback = protocol.choose_default(
        [
            _reading("full", "random", "library", False, h1=True),
            _reading("64", "random", "library", False, h1=True),
            _reading("32", "random", "library", False, h1=False),
        ]
    )
    assert fallback["batch_size"] == "64" and fallback["rule"].startswith("H.1 MLP approximates (")


def test_every_experiment_defaults_to_the_sweeps_reading():
    from dlor.experiments.section6_training.experiment import SweepConfig
    from dlor.experiments.spectra.experiment import SpectralConfig

    sweep = SweepConfig()
    for cfg in (uat.UATConfig(), SpectralConfig(), uat.UATConfig.paper(), SpectralConfig.paper()):
        assert (cfg.batch_size, cfg.split) == (sweep.batch_size, sweep.split)
