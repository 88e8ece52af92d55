"""The dlor command as a user runs it: a subprocess, exit codes, one-line errors."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import call_entry_point

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def dlor(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "dlor._cli.main", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=900
    )


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    res = dlor("reproduce", "all", "--budget", "tiny", "--out", out, "--quiet")
    assert res.returncode == 0, res.stderr
    return out, res


def test_reproduce_tiny_writes_everything(tiny_results):
    out, res = tiny_results
    for rel in [
        "report.md",
        "report.html",
        "config.json",
        "fig5/fig5_surfaces.png",
        "uat/fig2a_deep_error_vs_h.png",
        "uat/fig3b_wide_outputs.png",
        "training/fig4a_short_budget.png",
        "training/fig4d_success_rate.png",
        "training/fig6_parameter_matched.png",
        "training/table1.csv",
        "training/runs.csv",
        "spectral/fig2c_deep_spectral.png",
        "spectral/fig3c_wide_spectral.png",
        "expressivity/expressivity_construction.png",
        "expressivity/expressivity_init.png",
        "expressivity/expressivity_trained.png",
        "expressivity/construction.csv",
        "expressivity/trained_smallest_budget.csv",
    ]:
        assert (out / rel).exists(), rel
    report = (out / "report.md").read_text()
    pngs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert pngs and all(f"]({p})" in report for p in pngs)
    html = (out / "report.html").read_text()
    assert html.count("<img") == len(pngs) and "data:image/png;base64," in html
    assert "Table 1" in report and "budget: **tiny**" in report
    assert "Appendix D" in report  # the expressivity claims reach the report
    assert "not available" not in res.stdout


def _summaries(out: Path):
    import json

    from dlor.experiments._summary import Claim, Summary

    found = []
    for path in sorted(out.glob("*/summary.json")):
        data = json.loads(path.read_text())
        found.append(Summary(**(data | {"claims": [Claim(**c) for c in data["claims"]], "figures": []})))
    return found


def test_every_claim_has_one_id_and_the_published_runs_know_it(tiny_results):
    from dlor.experiments._published import published

    ids = [c.id for s in _summaries(tiny_results[0]) for c in s.claims]
    assert len(ids) >= 30 and all(ids) and len(set(ids)) == len(ids)
    assert set(ids) <= set(published()), set(ids) - set(published())


def test_every_measured_sentence_is_its_wording_of_its_numbers(tiny_results):
    """Each claim's sentence, written again from its stored values (as read back from summary.json)
    by the wording of its kind, is the sentence the report shows: no claim words its numbers by hand."""
    from dlor.experiments._registry import REGISTRY
    from dlor.experiments._summary import WORDINGS

    for exp in REGISTRY.values():
        exp.load()  # registers the experiment's wordings
    claims = [(s.name, c) for s in _summaries(tiny_results[0]) for c in s.claims]
    assert {name for name, _ in claims} == set(REGISTRY)  # every experiment
    for name, c in claims:
        assert c.kind in WORDINGS, (name, c.claim)
        assert WORDINGS[c.kind](**c.values) == c.measured, (name, c.kind)


def test_the_report_sets_each_verdict_beside_the_published_one(tiny_results):
    from dlor.experiments._published import published
    from dlor.experiments.report import _cell, purpose

    out, _ = tiny_results
    md = (out / "report.md").read_text()
    assert purpose("tiny") in md and "paper budget's" in purpose("tiny")
    known = published()
    differ = 0
    for s in _summaries(out):
        for c in s.claims:
            row = next(r for r in md.splitlines() if r.startswith(f"| {s.name} | {_cell(c.claim)} |"))
            pub = known[c.id]
            if pub.verdict == c.verdict:
                assert f"published: {pub.verdict} (agrees)" in row
            else:
                differ += 1
                assert f"DIFFERS: published {pub.verdict}; the paper budget's verdict holds" in row and pub.page in row
    assert differ > 0  # the tiny budget is too small to agree everywhere
    html = (out / "report.html").read_text()
    assert html.count("class='differs'") == differ and "published verdict (paper budget)" in html


def test_a_disagreement_is_marked_and_an_unpublished_claim_says_so(tiny_results, tmp_path, monkeypatch):
    import dataclasses

    from dlor.experiments import report
    from dlor.experiments._published import published

    summaries = _summaries(tiny_results[0])
    claims = [c for s in summaries for c in s.claims]
    known = dict(published())
    unpublished = claims[0]
    del known[unpublished.id]
    agreeing = next(c for c in claims[1:] if c.verdict == known[c.id].verdict)
    known[agreeing.id] = dataclasses.replace(known[agreeing.id], verdict="flipped for the test")
    monkeypatch.setattr(report, "published", lambda: known)
    report.write_report(tmp_path, summaries, [], "quick", {})
    md = (tmp_path / "report.md").read_text().splitlines()
    row = lambda c: next(r for r in md if f"| {c.measured} |" in r)  # noqa: E731
    assert row(unpublished).endswith("| no published verdict for this claim |")
    assert "DIFFERS: published flipped for the test; the paper budget's verdict holds" in row(agreeing)
    html = (tmp_path / "report.html").read_text()
    assert "no published verdict for this claim" in html and "flipped for the test" in html


def test_reproduce_resumes(tiny_results):
    out, _ = tiny_results
    res = dlor("reproduce", "fig5", "--budget", "tiny", "--out", out, "--quiet")
    assert res.returncode == 0 and "kept finished results" in res.stdout


@pytest.mark.skipif(
    not __import__("shutil").which("chromium"), reason="headless Chromium not installed (apt-get install chromium)"
)
def test_report_renders_in_chromium(tiny_results, tmp_path):
    from check_report_in_browser import check

    out, _ = tiny_results
    ok, total = check(out, tmp_path / "report.png")
    assert total >= 11 and ok == total
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_decompose_and_construct(tmp_path):
    W = np.random.default_rng(0).standard_normal((12, 12))
    np.save(tmp_path / "w.npy", W)
    from dlor._cli.main import main

    for mode in ("multiplicative", "additive", "nearest"):  # one subprocess, as a user runs it; the rest in this process
        if mode == "multiplicative":
            res = dlor("decompose", tmp_path / "w.npy", "--rank", 3, "--mode", mode)
            code, out, err = res.returncode, res.stdout, res.stderr
        else:
            code, out, err = call_entry_point(main, ["decompose", str(tmp_path / "w.npy"), "--rank", "3", "--mode", mode])
        assert code == 0, err
        assert "reconstruction error" in out
        assert (tmp_path / f"w.npy.{mode}.safetensors").exists()
    from safetensors.torch import load_file

    t = load_file(str(tmp_path / "w.npy.multiplicative.safetensors"))
    assert len([k for k in t if k.endswith(".U")]) == 4
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    from dlor.construct import load_compiled, save_mlp

    save_mlp(mlp, tmp_path / "mlp.safetensors")
    code, out, err = call_entry_point(
        main, ["construct", str(tmp_path / "mlp.safetensors"), "--rank", "2", "--mode", "deep", "--box", "-2", "2"]
    )
    assert code == 0, err
    assert float(out.split("^2: ")[1].split()[0]) < 1e-5
    net = load_compiled(tmp_path / "mlp.safetensors.deep.safetensors")  # the network and its config, no pickle
    X = torch.linspace(-2, 2, 50, dtype=torch.float64)[:, None].expand(-1, 2)
    with torch.no_grad():
        assert (net(X) - mlp(X)).abs().max() < 1e-5


def test_construct_refuses_a_pickle_without_the_flag_and_takes_it_with_it(tmp_path):
    from dlor._cli.main import main

    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    torch.save(mlp, tmp_path / "mlp.pt")
    code, _, err = call_entry_point(main, ["construct", str(tmp_path / "mlp.pt"), "--mode", "deep"])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "--trust-pickle" in lines[0] and "run any code" in lines[0], err
    assert not list(tmp_path.glob("mlp.pt.deep*"))
    code, out, err = call_entry_point(
        main, ["construct", str(tmp_path / "mlp.pt"), "--mode", "deep", "--rank", "2", "--trust-pickle"]
    )
    assert code == 0, err
    assert (tmp_path / "mlp.pt.deep.safetensors").exists()


@pytest.mark.parametrize(
    "args,msg",
    [
        (["decompose", "missing.npy", "--rank", "2", "--mode", "additive"], "no such file"),
        (["decompose", "{bad_ext}", "--rank", "2", "--mode", "additive"], "unsupported matrix file"),
        (["decompose", "{vec}", "--rank", "2", "--mode", "additive"], "2-D"),
        (["decompose", "{sing}", "--rank", "2", "--mode", "multiplicative"], "perturb"),
        (["decompose", "{mat}", "--rank", "0", "--mode", "additive"], "rank"),
        (["construct", "missing.safetensors", "--mode", "deep"], "no such file"),
        (["construct", "{notmodel}", "--mode", "deep"], "tensor 'W' of"),
        (["construct", "{nobias}", "--mode", "deep"], "layer 2 has 2.weight but no 2.bias"),
        (["construct", "{misfit}", "--mode", "deep"], "2.weight takes 3 inputs but the layer before gives 2"),
        (["construct", "{noact}", "--mode", "deep"], "does not say its activation"),
        (["construct", "{model}", "--mode", "deep", "--activation", "swish"], "unknown activation 'swish'"),
        (["construct", "{pickle}", "--mode", "deep"], "--trust-pickle"),
        (["construct", "{pickle_notmodel}", "--mode", "deep", "--trust-pickle"], "not an nn.Sequential"),
        (["construct", "{model}", "--mode", "deep", "--h", "-3"], "positive"),
        (["construct", "{model}", "--mode", "deep", "--box", "1", "0"], "LOW < HIGH"),
        (["reproduce", "--out", "{file}", "--budget", "tiny"], "not a folder"),
        (["reproduce", "--budget", "tiny", "--seeds", "0"], "--seeds"),
        (["reproduce", "--budget", "tiny", "--workers", "0"], "--workers"),
        (["reproduce", "fig4", "--budget", "tiny", "--batch-size", "0"], "--batch-size must be a positive integer"),
        (["reproduce", "fig4", "--budget", "tiny", "--batch-size", "-3"], "--batch-size must be a positive integer"),
        (["reproduce", "fig4", "--budget", "tiny", "--batch-size", "2.5"], "--batch-size must be a positive integer"),
        (["reproduce", "fig4", "--budget", "tiny", "--batch-size", "500"], "exceeds the 200 training points"),
        (["reproduce", "fig4", "--budget", "tiny", "--init", "xavier"], "unknown init"),
        (["reproduce", "fig4", "--budget", "tiny", "--split", "odd"], "unknown split"),
        (["reproduce", "fig4", "--budget", "tiny", "--device", "tpu"], "--device must be cpu, cuda or cuda:N"),
        (["reproduce", "fig4", "--budget", "tiny", "--device", "cuda:x"], "--device must be cpu, cuda or cuda:N"),
        (["reproduce", "fig99", "--budget", "tiny"], "unknown experiment 'fig99'; the registry holds: training"),
        (["pieces", "--family", "deep", "--activation", "softplus"], "needs ReLU"),
        (["pieces", "--family", "wide", "--in-features", "3"], "scalar input"),
        (["pieces", "--family", "dense", "--interval", "1", "1"], "is empty"),
        (["pieces", "--sawtooth", "0"], "must be an integer >= 1"),
        (["pieces", "--family", "deep", "--k", "0"], "--k must be in [1, 4096]"),
    ],
)
def test_bad_input_one_line_errors(tmp_path, monkeypatch, args, msg):
    """In this process (the errors are the command's own; a subprocess per case would mostly time torch's import)."""
    from dlor._cli.main import main

    (tmp_path / "a.txt").write_text("x")
    np.save(tmp_path / "v.npy", np.ones(3))
    np.save(tmp_path / "m.npy", np.eye(3))
    np.save(tmp_path / "s.npy", np.zeros((3, 3)))
    from safetensors.torch import save_file

    from dlor.construct import save_mlp

    torch.save({"not": "a model"}, tmp_path / "nm.pt")
    torch.save(nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)), tmp_path / "model.pt")
    save_mlp(nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)), tmp_path / "model.safetensors")
    save_file({"W": torch.eye(2)}, str(tmp_path / "nm.safetensors"), metadata={"activation": "tanh"})
    two = {"0.weight": torch.eye(2), "0.bias": torch.zeros(2)}
    save_file(two | {"2.weight": torch.ones(1, 2)}, str(tmp_path / "nobias.safetensors"), metadata={"activation": "tanh"})
    save_file(
        two | {"2.weight": torch.ones(1, 3), "2.bias": torch.zeros(1)},
        str(tmp_path / "misfit.safetensors"),
        metadata={"activation": "tanh"},
    )
    save_file(two, str(tmp_path / "noact.safetensors"))
    subs = {
        "{bad_ext}": tmp_path / "a.txt",
        "{vec}": tmp_path / "v.npy",
        "{sing}": tmp_path / "s.npy",
        "{mat}": tmp_path / "m.npy",
        "{notmodel}": tmp_path / "nm.safetensors",
        "{nobias}": tmp_path / "nobias.safetensors",
        "{misfit}": tmp_path / "misfit.safetensors",
        "{noact}": tmp_path / "noact.safetensors",
        "{model}": tmp_path / "model.safetensors",
        "{pickle}": tmp_path / "model.pt",
        "{pickle_notmodel}": tmp_path / "nm.pt",
        "{file}": tmp_path / "a.txt",
    }
    monkeypatch.chdir(tmp_path)
    code, _, err = call_entry_point(main, [str(subs.get(a, a)) for a in args])
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and msg in lines[0], err
    assert "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_on_a_machine_without_it_is_one_line_and_exit_2(tmp_path, device):
    from dlor._cli.main import main

    code, _, err = call_entry_point(main, ["reproduce", "fig4", "--budget", "tiny", "--device", device, "--out", str(tmp_path)])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "CUDA is not available" in lines[0] and "--device cpu" in lines[0]
    assert not (tmp_path / "training").exists()  # refused before anything ran


def test_pieces_counts_the_sawtooth_construction():
    from dlor._cli.main import main

    code, out, err = call_entry_point(main, ["pieces", "--sawtooth", "12"])
    assert code == 0 and "4096 linear pieces" in out, err


def test_reproduce_list_shows_every_experiment_with_its_artefacts():
    from dlor.experiments._registry import REGISTRY

    res = dlor("reproduce", "--list")  # the one run of the command as a user types it
    assert res.returncode == 0, res.stderr
    for exp in REGISTRY.values():
        line = next(line for line in res.stdout.splitlines() if line.startswith(exp.name + " "))
        assert all(a in line for a in exp.artefacts)
    assert "tiny, quick, paper" in res.stdout


def test_argparse_errors_are_clean():
    res = dlor("decompose", "x.npy", "--mode", "sideways", "--rank", "1")
    assert res.returncode == 2 and "Traceback" not in res.stderr
