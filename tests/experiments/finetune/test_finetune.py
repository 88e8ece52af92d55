"""``dlor reproduce finetune``: the tiny budget end to end (through the command line), the cached
source model, the target splits, the wide form of the drift study and the exact decompositions of
the decoupled study against their dense references, and bad settings."""

import csv
import json
import math

import pytest
import torch

from dlor import DLoRError
from dlor._cli.main import main as dlor_main
from dlor.experiments._context import RunContext
from dlor.experiments._registry import config_for, experiment, parse_setting
from dlor.experiments.finetune import experiment as ft
from dlor.experiments.finetune.data import TARGETS, load_target
from dlor.experiments.finetune.decoupled import component_set, decomposed
from dlor.experiments.finetune.drift import WideProjection
from dlor.lm import GPT, GPTConfig
from tests.conftest import call_entry_point

pytest.importorskip("peft")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("finetune")
    code, stdout, stderr = call_entry_point(
        dlor_main, ["reproduce", "finetune", "--budget", "tiny", "--quiet", "--out", str(out)]
    )
    assert code == 0, stdout + stderr
    return out


def test_the_tiny_budget_writes_every_table_figure_and_claim(tiny_run):
    folder = tiny_run / "finetune"
    summary = json.loads((folder / "summary.json").read_text())
    methods = list(csv.DictReader((folder / "finetune_methods.csv").open()))
    assert {(r["target"], r["method"]) for r in methods} == {
        (t, m) for t in TARGETS for m in ("none", "full", "lora", "dora", "dlor")
    }
    assert all(math.isfinite(float(r["test_median"])) for r in methods)
    drift = list(csv.DictReader((folder / "finetune_drift.csv").open()))
    assert {(r["reading"], r["train_beta"], r["train_bias"]) for r in drift} == {
        (a, b, c) for a in ("zero_sum", "offset") for b in ("False", "True") for c in ("False", "True")
    }
    modes = {r["mode"] for r in csv.DictReader((folder / "finetune_decoupled.csv").open())}
    assert modes == {"joint", "independent", "rank 16"}
    names = [c["claim"] for c in summary["claims"]]
    assert len(names) == 7 and any("mixture of experts" in n for n in names)
    assert all(
        c["verdict"] in ("confirmed", "partially confirmed", "not confirmed", "not judged", "not tested")
        for c in summary["claims"]
    )
    for fig in summary["figures"]:
        assert (tiny_run / fig).stat().st_size > 5_000
    trainable = {(r["method"], r["rank"]): int(r["trainable"]) for r in methods if r["target"] == "code"}
    assert trainable[("dlor", "2")] == trainable[("lora", "2")] + 6  # one alpha per adapted projection


def test_a_second_call_reuses_the_source_model_and_every_finished_run(tiny_run, monkeypatch):
    import dlor.lm
    from dlor.experiments.finetune import methods, runs

    monkeypatch.setattr(dlor.lm, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained the source")))
    monkeypatch.setattr(methods, "finetune", lambda *a, **k: (_ for _ in ()).throw(AssertionError("refit a run")))
    monkeypatch.setattr(runs, "finetune", methods.finetune)
    before = (tiny_run / "finetune" / "finetune_methods.csv").read_text()
    cfg = ft.FinetuneConfig.tiny()
    ft.run(cfg, tiny_run, RunContext(progress=False))
    assert (tiny_run / "finetune" / "finetune_methods.csv").read_text() == before
    assert len(list((tiny_run / "finetune").glob("source-*.safetensors"))) == 1


@pytest.mark.parametrize("name", TARGETS)
def test_each_target_splits_every_document_80_10_10_without_overlap(name):
    t = load_target(name, max_bytes=300_000)
    total = t.train.numel() + t.val.numel() + t.test.numel()
    assert abs(t.train.numel() / total - 0.8) < 0.01 and abs(t.val.numel() / total - 0.1) < 0.01
    assert t.documents >= 5


@pytest.mark.parametrize("reading", ["zero_sum", "offset"])
def test_the_wide_form_approaches_the_dense_layer_as_h_shrinks(reading):
    torch.manual_seed(0)
    W = torch.randn(12, 8, dtype=torch.float64) / 3
    x = torch.randn(50, 8, dtype=torch.float64)
    errors = []
    for h in (1e-1, 1e-2, 1e-3):
        wide = WideProjection(W, rank=2, h=h, reading=reading, train_beta=False, train_bias=False)
        with torch.no_grad():
            errors.append(float((wide(x) - x @ W.T).abs().max()))
            torch.testing.assert_close(wide.linear(x), x @ W.T, rtol=1e-12, atol=1e-12)
    assert errors[0] > 5 * errors[1] > 25 * errors[2]  # O(h): Theorem 3's remainder
    assert (sum(wide.beta.tolist()) == 0) == (reading == "zero_sum")


@pytest.mark.parametrize("scheme", ["additive", "multiplicative"])
def test_the_decomposed_model_equals_the_source_and_splits_its_components_in_two(scheme):
    torch.manual_seed(0)
    source = GPT(GPTConfig(variant="dense", n_layer=1, n_head=2, n_embd=16, block_size=8)).double()
    model = decomposed(source, scheme, rank=4)
    idx = torch.randint(0, 256, (2, 8))
    torch.testing.assert_close(model(idx), source(idx), rtol=1e-9, atol=1e-9)
    first, second = component_set(model, 0), component_set(model, 1)
    assert not {id(p) for p in first} & {id(p) for p in second}
    both = component_set(model, None)
    assert len(both) == len(first) + len(second)


def test_bad_settings_name_the_problem_and_the_way_out():
    exp = experiment("finetune")
    with pytest.raises(DLoRError, match="targets must be a non-empty list of prose, code"):
        config_for(exp, "tiny", targets=("poetry",))
    with pytest.raises(DLoRError, match="at most the width"):
        config_for(exp, "tiny", ranks=(32,))
    with pytest.raises(DLoRError, match="rates needs at least 3"):
        config_for(exp, "tiny", rates=(1e-3, 3e-3))
    assert parse_setting(exp, "rates=1e-4,1e-3,1e-2") == ("rates", (1e-4, 1e-3, 1e-2))
    with pytest.raises(DLoRError, match="runs on the CPU"):
        ft.run(ft.FinetuneConfig.tiny(), "/nonexistent", RunContext(device="cuda", progress=False))


def test_without_peft_the_command_line_says_how_to_get_it(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "peft", None)
    monkeypatch.delitem(sys.modules, "dlor.peft", raising=False)
    code, stdout, stderr = call_entry_point(
        dlor_main, ["reproduce", "finetune", "--budget", "tiny", "--quiet", "--out", str(tmp_path)]
    )
    assert code == 2
    assert stderr.strip().count("\n") == 0 and "peft package is not installed: pip install 'dlor[hf]'" in stderr


def test_a_finished_run_is_reused_only_for_its_own_source_model(tiny_run):
    from pathlib import Path

    from dlor.experiments.finetune.runs import Job, finished

    folder = tiny_run / "finetune"
    cfg = ft.FinetuneConfig.tiny()
    source = next(folder.glob("source-*.safetensors"))
    job = Job("code", "none", 0, 0.0, 0, "seed")
    assert finished(folder, job, cfg.schedule(), source) is not None
    assert finished(folder, job, cfg.schedule(), Path("source-0123456789ab.safetensors")) is None
    drift = [json.loads(p.read_text()) for p in (folder / "drift").glob("*.json")]
    assert drift and all(d["settings"]["source"] == source.name for d in drift)
