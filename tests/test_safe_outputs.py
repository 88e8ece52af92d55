"""No finished work lost, no input overwritten: output paths are checked before the work, a
second run into a busy folder stops at once, and a torn per-run file is recomputed."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import call_entry_point


def _main(entry, argv):
    return call_entry_point(entry, argv)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


class _Trained(Exception):
    pass


@pytest.mark.parametrize(
    "out, message",
    [
        ("{missing}/model.safetensors", "does not exist"),
        ("{folder}", "is a folder"),
        ("", "is empty"),
        ("{folder}/model.pt", "saved as .safetensors"),
    ],
)
def test_lm_out_is_checked_before_training(tmp_path, monkeypatch, out, message):
    import dlor.lm.trainer
    from dlor._cli.main import main

    monkeypatch.setattr(dlor.lm.trainer, "train", lambda *a, **k: (_ for _ in ()).throw(_Trained()))
    path = out.format(missing=tmp_path / "nowhere", folder=tmp_path)
    code, _, err = _main(main, ["lm", "train", "--steps", "2", "--out", path])
    assert code == 2 and message in _one_line(err)


def test_lm_out_in_an_unwritable_folder_is_refused_before_training(tmp_path, monkeypatch):
    import dlor._options
    import dlor.lm.trainer
    from dlor._cli.main import main

    monkeypatch.setattr(dlor.lm.trainer, "train", lambda *a, **k: (_ for _ in ()).throw(_Trained()))
    real_access = os.access
    monkeypatch.setattr(
        dlor._options.os,
        "access",  # as a non-root user sees a read-only folder
        lambda p, mode: False if mode == os.W_OK and str(p) == str(tmp_path) else real_access(p, mode),
    )
    code, _, err = _main(main, ["lm", "train", "--steps", "2", "--out", str(tmp_path / "model.safetensors")])
    assert code == 2 and "permission denied" in _one_line(err)


def test_a_save_that_fails_after_training_is_rescued(tmp_path, monkeypatch):
    import dlor.lm.saved
    from dlor._cli.main import main
    from dlor.lm import load_model

    calls = []
    real_save = dlor.lm.saved.save_model

    def failing_first(model, path):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real_save(model, path)

    monkeypatch.setattr(dlor.lm.saved, "save_model", failing_first)
    argv = [
        "lm",
        "train",
        "--steps",
        "2",
        "--n-embd",
        "16",
        "--n-head",
        "2",
        "--n-layer",
        "1",
        "--block",
        "8",
        "--batch",
        "2",
        "--out",
        str(tmp_path / "model.safetensors"),
    ]
    code, out, err = _main(main, argv)
    assert code == 0 and "saved it to" in err
    rescued = calls[1]
    assert os.path.exists(rescued) and load_model(rescued) is not None
    os.unlink(rescued)


@pytest.fixture()
def inputs(tmp_path):
    from safetensors.torch import save_file

    save_file({"W": torch.eye(4, dtype=torch.float64) + 0.1}, str(tmp_path / "A.safetensors"))
    np.save(tmp_path / "A.npy", np.eye(4) + 0.1)
    from dlor.construct import save_mlp

    save_mlp(nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 1)).double(), tmp_path / "M.safetensors")
    os.symlink(tmp_path / "A.safetensors", tmp_path / "link.safetensors")
    return tmp_path


@pytest.mark.parametrize(
    "argv",
    [
        ["decompose", "{d}/A.safetensors", "--rank", "2", "--mode", "additive", "--out", "{d}/A.safetensors"],
        ["decompose", "{d}/A.safetensors", "--rank", "2", "--mode", "additive", "--out", "{d}/link.safetensors"],
        ["construct", "{d}/M.safetensors", "--mode", "deep", "--out", "{d}/M.safetensors"],
    ],
)
def test_out_equal_to_the_input_is_refused(inputs, argv):
    from dlor._cli.main import main

    before = {p.name: p.read_bytes() for p in inputs.iterdir() if p.is_file()}
    code, _, err = _main(main, [a.format(d=inputs) for a in argv])
    assert code == 2 and "is the input file" in _one_line(err)
    assert {p.name: p.read_bytes() for p in inputs.iterdir() if p.is_file()} == before  # nothing overwritten


def test_decompose_out_with_another_suffix_is_refused(inputs):
    from dlor._cli.main import main

    code, _, err = _main(
        main, ["decompose", str(inputs / "A.npy"), "--rank", "2", "--mode", "additive", "--out", str(inputs / "x.npy")]
    )
    assert code == 2 and "must end in .safetensors" in _one_line(err)


def test_a_second_reproduce_into_the_same_folder_stops_at_once(tmp_path):
    cmd = [sys.executable, "-m", "dlor", "reproduce", "fig4", "--budget", "tiny", "--out", str(tmp_path), "--quiet"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".dlor-reproduce.lock"
    deadline = time.time() + 120
    while not (lock.exists() and lock.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    out, err = first.communicate(timeout=900)
    assert first.returncode == 0, err
    assert second.returncode == 2 and "in use by another dlor reproduce" in _one_line(second.stderr)
    assert (tmp_path / "training" / "summary.json").exists() and (tmp_path / "report.md").exists()
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary file left behind
    from dlor._cli.main import main

    code, out, _ = call_entry_point(main, cmd[3:])  # the lock went with the first run
    assert code == 0 and "kept finished results" in out


@pytest.mark.slow  # trains LM runs twice; the torn-file logic is tested fast in test_torn_files
def test_a_torn_per_run_lm_file_is_detected_and_recomputed(tmp_path):
    from dlor._cli.main import main

    argv = ["reproduce", "lm", "--budget", "tiny", "--out", str(tmp_path), "--quiet"]
    code, _, err = _main(main, argv)
    assert code == 0, err
    result = sorted((tmp_path / "lm" / "runs").glob("*/result.json"))[0]
    result.write_text(result.read_text()[: result.stat().st_size // 2])  # torn, while summary.json is intact
    code, out, err = _main(main, argv)
    assert code == 0, err
    assert "kept finished results" not in out
    assert "unreadable" in err and list(result.parent.glob("result.json.corrupt*"))
    assert '"val_loss"' in result.read_text()  # retrained


def test_a_held_lock_refuses_the_run_before_any_work(tmp_path):
    """The same refusal without a race: this test holds the folder's lock itself."""
    import fcntl

    from dlor._cli.main import main

    with (tmp_path / ".dlor-reproduce.lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("12345")
        held.flush()
        code, _, err = call_entry_point(main, ["reproduce", "fig5", "--budget", "tiny", "--out", str(tmp_path), "--quiet"])
        assert code == 2 and "in use by another dlor reproduce (process 12345)" in _one_line(err)
        assert not (tmp_path / "fig5").exists()  # refused before any work


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from dlor._files import replace_atomically

    path = tmp_path / "result.json"
    path.write_text("finished")

    def fails(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomically(path, fails)
    assert path.read_text() == "finished" and sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
    replace_atomically(path, lambda tmp: tmp.write_text("new"))
    assert path.read_text() == "new" and len(list(tmp_path.iterdir())) == 1
