"""A torn result file (full disk, crash during a copy, bad sync) costs that file only: the next
`dlor reproduce` says so in one line, sets it aside as NAME.corrupt and recomputes it."""

import json
import subprocess
import sys

import pytest


def dlor(*args):
    return subprocess.run([sys.executable, "-m", "dlor", *map(str, args)], capture_output=True, text=True, timeout=900)


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("torn")
    res = dlor("reproduce", "fig4", "--budget", "tiny", "--out", out, "--quiet", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "training" / "summary.json").read_text())["config"]["device"] == "cpu"
    return out


def _rows(out):
    return json.loads((out / "training" / "runs" / "deep_k1.json").read_text())


def _notices(res):
    return [line for line in (res.stdout + res.stderr).splitlines() if "unreadable" in line]


def _rerun_and_check(out, torn, *more):
    res = dlor("reproduce", "fig4", "--budget", "tiny", "--out", out, "--quiet", *more)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    notices = _notices(res)
    assert len(notices) == 1 and str(torn) in notices[0] and torn.name + ".corrupt" in notices[0], res.stdout + res.stderr
    assert (torn.parent / (torn.name + ".corrupt")).exists()
    return res


def test_torn_summary_is_set_aside_and_recomputed(finished):
    summary = finished / "training" / "summary.json"
    before = json.loads(summary.read_text())
    _truncate(summary)
    _rerun_and_check(finished, summary)
    after = json.loads(summary.read_text())  # whole again
    assert [c["measured"] for c in after["claims"]] == [c["measured"] for c in before["claims"]]


def test_torn_group_file_retrains_that_group_only(finished):
    group = finished / "training" / "runs" / "deep_k1.json"
    before = _rows(finished)
    _truncate(group)
    (finished / "training" / "summary.json").unlink()
    _rerun_and_check(finished, group)
    assert _rows(finished) == [r | {"group_seconds": a["group_seconds"]} for r, a in zip(before, _rows(finished), strict=True)]


def test_torn_checkpoint_restarts_its_group(finished):
    group = finished / "training" / "runs" / "deep_k1.json"
    before = _rows(finished)
    group.unlink()  # the group did not finish: it left only a checkpoint, and a torn one
    ckpt = group.with_suffix(".ckpt")
    ckpt.write_bytes(b"PK\x03\x04 torn zip archive")
    (finished / "training" / "summary.json").unlink()
    _rerun_and_check(finished, ckpt)
    assert not ckpt.exists()  # the retrained group finished and removed its checkpoint
    assert [r["test_mse_final"] for r in _rows(finished)] == [r["test_mse_final"] for r in before]


def test_torn_config_is_set_aside_and_rewritten(finished):
    config = finished / "config.json"
    _truncate(config)
    _rerun_and_check(finished, config)
    assert json.loads(config.read_text())["argv"]["what"] == "fig4"


def test_a_summary_of_another_shape_is_set_aside(tmp_path, capsys):
    from dlor._cli.reproduce import _load_summary

    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"name": "x", "title": "t", "claims": [{"claim": "c"}], "config": {"budget": "tiny"}}))
    assert _load_summary(path, "tiny", None) is None
    assert (tmp_path / "summary.json.corrupt").exists() and not path.exists()
    assert "unreadable (unexpected content)" in capsys.readouterr().err
