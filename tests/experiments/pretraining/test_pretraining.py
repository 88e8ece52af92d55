"""`dlor reproduce lm`: the tuned study (sweep, readings, size trend), its bad input, and the batched trainer."""

import csv
import math

import pytest
import torch

from dlor._errors import DLoRError
from dlor.experiments._registry import REGISTRY, RunContext, parse_setting
from dlor.experiments.pretraining import experiment as lm
from dlor.experiments.pretraining.runs import Runner
from dlor.lm import GPT, GPTConfig, TrainSettings, load_corpus, train
from dlor.lm.batched import train_batched
from dlor.lm.trainer import make_optimizer
from tests.conftest import call_entry_point
from tests.tolerances import BATCHED_RUNS_RTOL, WORKER_PROCESSES_RTOL

SMALL = dict(n_layer=1, n_head=2, n_embd=16, block_size=16, rank=4)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm")
    return out, lm.run(lm.LMConfig.tiny(), out, RunContext(progress=False))


def _rows(path):
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_tiny_study_writes_the_sweep_the_trend_and_the_readings(tiny):
    out, s = tiny
    for rel in s.figures + s.data:
        assert (out / rel).exists(), rel
    assert {"lm/lr_sweep.png", "lm/size_trend.png", "lm/reading_effects.png"} <= set(s.figures)
    cfg = lm.LMConfig.tiny()
    tuned = _rows(out / "lm/lm_tuned.csv")
    variants = (*lm.VARIANTS, "sparse+lowrank")
    assert {(int(r["width"]), r["variant"]) for r in tuned} == {(w, v) for w in cfg.widths for v in variants}
    readings = _rows(out / "lm/lm_readings.csv")
    assert len(readings) == 2 ** len(cfg.reading_factors)  # every combination of the crossed factors
    for r in readings:
        diff = float(r["lowrank_val_nats"]) - float(r["dlor_val_nats"])
        assert math.isclose(float(r["lowrank_minus_dlor"]), diff, rel_tol=1e-12, abs_tol=1e-12)
    sweep = _rows(out / "lm/lm_sweep.csv")
    for w in cfg.widths:
        for v in variants:
            mine = [r for r in sweep if int(r["width"]) == w and r["variant"] == v and r["default_reading"] == "True"]
            rates = [float(r["lr"]) for r in mine]
            assert len(rates) >= len(cfg.rates) and rates == sorted(rates)
    assert all(c.verdict != "not tested" for c in s.claims)  # Appendix G's other statements: dlor reproduce finetune


def test_sparse_lowrank_holds_dlor_s_parameters_within_one_percent(tiny):
    out, s = tiny
    tuned = _rows(out / "lm/lm_tuned.csv")
    for w in lm.LMConfig.tiny().widths:
        dlor, sparse = (next(r for r in tuned if int(r["width"]) == w and r["variant"] == v) for v in ("dlor", "sparse+lowrank"))
        assert abs(int(sparse["params"]) - int(dlor["params"])) <= 0.01 * int(dlor["params"])
        assert 0 < float(sparse["density"]) < 1 and int(sparse["rank"]) <= int(dlor["rank"])
    assert any(c.id == "lm.dlor-matches-sltrain" for c in s.claims)


def test_the_mechanism_table_keeps_each_reading_apart(tiny):
    out, s = tiny
    rows = {r["reading"]: r for r in _rows(out / "lm/lm_mechanism.csv")}
    assert list(rows) == ["low-rank U V^T", "alpha frozen at 1", "alpha trainable from 1", "alpha trainable from 0"]
    # a frozen alpha adds no trainable parameter: it has exactly low-rank's
    assert rows["alpha frozen at 1"]["trainable_params"] == rows["low-rank U V^T"]["trainable_params"]
    assert int(rows["alpha trainable from 1"]["trainable_params"]) > int(rows["alpha frozen at 1"]["trainable_params"])
    for r in rows.values():
        gain = float(_rows(out / "lm/lm_mechanism.csv")[0]["val_nats_median"]) - float(r["val_nats_median"])
        assert math.isclose(float(r["gain_over_lowrank"]), gain, abs_tol=1e-12)


def test_the_length_trend_retunes_every_variant_at_every_length(tiny):
    out, s = tiny
    cfg = lm.LMConfig.tiny()
    rows = _rows(out / "lm/lm_lengths.csv")
    assert {(int(r["width"]), float(r["tokens_per_param"]), r["variant"]) for r in rows} == {
        (w, per, v) for w in cfg.length_widths for per in cfg.lengths for v in ("dense", "lowrank", "dlor")
    }
    steps = {float(r["tokens_per_param"]): int(r["steps"]) for r in rows}
    assert steps[cfg.lengths[-1]] > steps[cfg.lengths[0]]
    tuned = {(int(r["width"]), r["variant"]): r for r in _rows(out / "lm/lm_tuned.csv")}
    for r in rows:  # the study's own length is the main study's item, not a second tuning
        if float(r["tokens_per_param"]) == cfg.tokens_per_param:
            assert r["best_rate"] == tuned[(int(r["width"]), r["variant"])]["best_rate"]
    gaps = _rows(out / "lm/lm_length_gaps.csv")
    assert len(gaps) == len(cfg.length_widths) * len(cfg.lengths)
    assert any(c.id == "lm.advantage-with-length" for c in s.claims)


def test_the_power_laws_carry_bootstrap_intervals(tiny):
    out, s = tiny
    fits = _rows(out / "lm/lm_power_laws.csv")
    assert {r["variant"] for r in fits} == {"dense", "lowrank", "dlor", "sparse+lowrank"}
    for r in fits:
        assert int(r["resamples"]) == lm.LMConfig.tiny().bootstrap
        assert float(r["b_low"]) <= float(r["b_high"])


def test_no_verdict_rests_on_a_rate_at_the_edge_of_its_grid(tiny):
    out, s = tiny
    cfg = lm.LMConfig.tiny()
    for r in _rows(out / "lm/lm_tuned.csv"):
        grid = [float(x) for x in r["grid"].split()]
        best = float(r["best_rate"])
        on_edge = best in (grid[0], grid[-1])
        assert (r["rate_on_edge"] == "True") == on_edge
        if on_edge:  # the grid was extended as far as allowed, and the size is left out of every verdict
            assert len(grid) == len(cfg.rates) + cfg.max_extensions or r["val_nats_median"] == "inf"
            for c in s.claims[:3]:
                assert f"width {r['width']} not judged" in c.measured


def test_a_finished_study_is_not_retrained(tiny, monkeypatch):
    from dlor.experiments.pretraining import runs as _lm_runs

    out, s = tiny
    monkeypatch.setattr(_lm_runs, "_train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
    again = lm.run(lm.LMConfig.tiny(), out, RunContext(progress=False))
    assert again.tables == s.tables


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rates": ()}, "grid is empty"),
        ({"rates": (1e-3, 3e-4, 1e-2)}, "sorted in increasing order"),
        ({"rates": (1e-3, 0.0, 1e-2)}, "positive finite"),
        ({"rates": (1e-3, float("nan"), 1e-2)}, "positive finite"),
        ({"factor_init": "lora"}, "unknown factor_init"),
        ({"lr_mult_u": 0.0}, "lr_mult_u must be a positive"),
        ({"lr_mult_alpha": -1.0}, "lr_mult_alpha must be a positive"),
        ({"reading_factors": ("alpha",)}, "unknown reading factor"),
        ({"reading_width": 12}, "not one of the widths"),
    ],
)
def test_bad_settings_are_refused_with_the_way_out(change, message):
    import dataclasses

    with pytest.raises(DLoRError, match=message):
        dataclasses.replace(lm.LMConfig.tiny(), **change)


def test_a_bad_corpus_folder_is_refused(tmp_path):
    import dataclasses

    with pytest.raises(DLoRError, match="no such folder"):
        dataclasses.replace(lm.LMConfig.tiny(), corpus=str(tmp_path / "missing"))
    with pytest.raises(DLoRError, match="folder is empty"):
        dataclasses.replace(lm.LMConfig.tiny(), corpus=str(tmp_path))
    (tmp_path / "weights.bin").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DLoRError, match="none of its 1 files is non-empty UTF-8 text"):
        dataclasses.replace(lm.LMConfig.tiny(), corpus=str(tmp_path))
    (tmp_path / "a.txt").write_text("To be, or not to be.\n" * 400)
    assert dataclasses.replace(lm.LMConfig.tiny(), corpus=str(tmp_path)).corpus == str(tmp_path)


@pytest.mark.parametrize(
    "argv",
    [
        ["--set", "rates="],
        ["--set", "rates=1e-3,3e-4,1e-2"],
        ["--set", "rates=1e-3,-1,1e-2"],
        ["--set", "factor_init=lora"],
        ["--set", "lr_mult_v=0"],
        ["--set", "nonsense=1"],
        ["--set", "rates"],
        ["--corpus", "/nonexistent/folder"],
        ["--device", "cuda:99"],
    ],
)
def test_bad_input_on_the_command_line_is_one_line_and_exit_2(tmp_path, argv):
    from dlor._cli.main import main

    code, _, err = call_entry_point(main, ["reproduce", "lm", "--budget", "tiny", "--out", str(tmp_path), *argv])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "lm").exists()  # refused before any work


def test_cuda_without_cuda_is_refused_before_any_work(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DLoRError, match="CUDA is not available"):
        lm.run(lm.LMConfig.tiny(), tmp_path, RunContext(device="cuda", progress=False))
    assert not (tmp_path / "lm").exists()


def test_set_reads_each_value_as_its_field_type():
    exp = REGISTRY["lm"]
    assert parse_setting(exp, "rates=3e-4, 1e-3,3e-3") == ("rates", (3e-4, 1e-3, 3e-3))
    assert parse_setting(exp, "alpha_trainable=false") == ("alpha_trainable", False)
    assert parse_setting(exp, "alpha_init_rect=none") == ("alpha_init_rect", None)
    assert parse_setting(exp, "seeds=5") == ("seeds", 5)
    assert parse_setting(exp, "factor_init=zero_u") == ("factor_init", "zero_u")
    with pytest.raises(DLoRError, match="not a number"):
        parse_setting(exp, "margin=big")


def test_every_reading_is_a_field_of_the_model_or_the_optimiser():
    torch.manual_seed(0)
    m = GPT(GPTConfig(variant="dlor", alpha_init=0.5, alpha_init_rect=None, factor_init="zero_u", **SMALL))
    block = m.blocks[0]
    assert float(block.attn.q.alpha.detach()) == 0.5 and isinstance(block.attn.q.alpha, torch.nn.Parameter)
    assert float(block.mlp.up.alpha) == 0.0 and "alpha" in dict(block.mlp.up.named_buffers())  # no alpha I there
    assert all(float(p.U.abs().max()) == 0.0 and float(p.V.abs().max()) > 0 for p in (block.attn.q, block.mlp.down))
    fixed = GPT(GPTConfig(variant="dlor", alpha_trainable=False, **SMALL))
    assert not any(n.endswith("alpha") for n, _ in fixed.named_parameters())
    s = TrainSettings(lr=2e-3, lr_mult_u=3.0, lr_mult_v=0.5, lr_mult_alpha=10.0, factor_weight_decay=0.0, weight_decay=0.2)
    opt = make_optimizer(m, s)

    def group(param):
        return next(g for g in opt.param_groups if any(q is param for q in g["params"]))

    groups = {
        "U": group(block.attn.q.U),
        "V": group(block.attn.q.V),
        "alpha": group(block.attn.q.alpha),
        "matrix": group(m.wte.weight),
    }
    assert groups["matrix"]["weight_decay"] == 0.2 and groups["matrix"]["lr"] == pytest.approx(2e-3)
    assert groups["U"]["lr"] == pytest.approx(6e-3) and groups["V"]["lr"] == pytest.approx(1e-3)
    assert groups["alpha"]["lr"] == pytest.approx(2e-2) and groups["U"]["weight_decay"] == 0.0


def test_pure_low_rank_with_one_zero_factor_cannot_start_learning():
    """With U = 0 every low-rank projection outputs 0, so the blocks pass no signal and every
    factor's gradient is exactly 0: the model stays an embedding-and-head model. alpha I breaks it."""
    x = torch.randint(0, 256, (2, 16))
    for variant, dead in (("lowrank", True), ("dlor", False)):
        torch.manual_seed(0)
        m = GPT(GPTConfig(variant=variant, factor_init="zero_u", **SMALL))
        m(x, x)[1].backward()
        factors = [p.grad for n, p in m.named_parameters() if n.endswith((".U", ".V"))]
        assert all(float(g.abs().max()) == 0.0 for g in factors) == dead


@pytest.mark.parametrize("variant", ["dense", "lowrank", "dlor"])
def test_batched_runs_equal_the_same_runs_one_at_a_time(corpus, variant):
    cfg = GPTConfig(variant=variant, **SMALL)
    base = TrainSettings(steps=12, batch_size=4, warmup=3, eval_every=6, eval_batches=2, checkpoint_every=12)
    runs = [TrainSettings(**{**base.__dict__, "lr": lr, "seed": seed}) for lr, seed in ((1e-3, 0), (3e-3, 0), (3e-3, 1))]
    batched = train_batched(cfg, runs, corpus)
    for s, rec in zip(runs, batched, strict=True):
        one = train(cfg, s, corpus)
        assert [h[0] for h in rec["history"]] == [h[0] for h in one["history"]]
        for (_, a), (_, b) in zip(rec["history"], one["history"], strict=True):
            assert a == pytest.approx(b, rel=BATCHED_RUNS_RTOL)


def test_batched_runs_refuse_what_they_cannot_batch(corpus):
    s = TrainSettings(steps=2)
    with pytest.raises(DLoRError, match="may differ only in lr and seed"):
        train_batched(GPTConfig(**SMALL), [s, TrainSettings(steps=3)], corpus)
    with pytest.raises(DLoRError, match="sparse CSR product"):
        train_batched(GPTConfig(variant="sparse+lowrank", density=0.2, **SMALL), [s], corpus)
    with pytest.raises(DLoRError, match="at least one"):
        train_batched(GPTConfig(**SMALL), [], corpus)


def test_one_runner_serves_every_round_from_the_same_processes_and_matches_one_process(tmp_path):
    base = TrainSettings(steps=8, batch_size=4, warmup=2, eval_every=4, eval_batches=2, checkpoint_every=8)
    rounds = [
        [(GPTConfig(variant=v, **SMALL), TrainSettings(**{**base.__dict__, "lr": lr})) for v in ("dlor", "lowrank")]
        for lr in (1e-3, 3e-3)
    ]
    with Runner(tmp_path / "two", corpus_dir=None, device="cpu", workers=2, progress=False) as runner:
        first = runner.train(rounds[0], "round 1")
        processes = runner._pool
        second = runner.train(rounds[1], "round 2")
        assert processes is not None and runner._pool is processes  # started once, kept for round 2
    assert runner._pool is None  # stopped when the study ends
    with Runner(tmp_path / "one", corpus_dir=None, device="cpu", workers=1, progress=False) as alone:
        reference = [alone.train(r, "one process") for r in rounds]
    for got, want in zip(first + second, reference[0] + reference[1], strict=True):
        assert got["val_loss"] == pytest.approx(want["val_loss"], rel=WORKER_PROCESSES_RTOL)
