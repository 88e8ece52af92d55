"""Every numeric option of every command, given hostile values, ends in exit 0 with a finite
result or exit 2 with one line on stderr: never a traceback.

The commands run in this process (``main(argv)``) with their long work replaced by a stub that
stops right after every check has passed, so the property covers the checks, not the training.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from dlor.construct import save_mlp
from tests.conftest import call_entry_point

HOSTILE = ["0", "-1", "nan", "inf", "-inf", "1e308", "1e-320", "100000000000000000000", "", "abc", "2.5"]

OPTIONS = {  # (command, option, values it takes): each numeric option of each command
    "reproduce": ["--seeds", "--workers", "--batch-size"],
    "decompose": ["--rank", "--alpha", "--perturb"],
    "construct": ["--rank", "--h", "--samples", "--box"],
    "pieces": ["--sawtooth", "--k", "--width", "--in-features", "--seed", "--interval"],
    "lm": ["--steps", "--batch", "--block", "--n-layer", "--n-head", "--n-embd", "--rank", "--density", "--lr", "--seed"],
    "sample": ["--tokens", "--temperature", "--top-k", "--seed"],
}


class _StopBeforeWork(Exception):
    pass


def _stop(*args, **kwargs):
    raise _StopBeforeWork


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from dlor.lm import GPT, GPTConfig, save_model

    folder = tmp_path_factory.mktemp("cli_inputs")
    np.save(folder / "m.npy", np.eye(3) + 0.1 * np.arange(9).reshape(3, 3))
    save_mlp(
        nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1)).double(),
        folder / "mlp.safetensors",
    )
    save_model(GPT(GPTConfig(variant="dense", n_layer=1, n_head=1, n_embd=8, block_size=8)), folder / "gpt.safetensors")
    return folder


def _argv(command: str, option: str, value: str, folder) -> tuple[list[str], object]:
    """The command line, and the entry point to call with it."""
    from dlor._cli.main import main as dlor_main

    two = [value, "1"] if option in ("--box", "--interval") else [value]
    if command == "reproduce":
        return ["reproduce", "fig4", "--budget", "tiny", "--out", str(folder / "res"), "--quiet", option, *two], dlor_main
    if command == "decompose":
        base = [
            "decompose",
            str(folder / "m.npy"),
            "--mode",
            "multiplicative",
            "--rank",
            "1",
            "--out",
            str(folder / "f.safetensors"),
        ]
        return [*base, option, *two], dlor_main
    if command == "construct":
        base = [
            "construct",
            str(folder / "mlp.safetensors"),
            "--mode",
            "deep",
            "--h",
            "1e-3",
            "--samples",
            "16",
            "--out",
            str(folder / "c.safetensors"),
        ]
        return [*base, option, *two], dlor_main
    if command == "pieces":
        base = ["pieces", "--family", "deep"] if option != "--sawtooth" else ["pieces"]
        return [*base, option, *two], dlor_main
    if command == "lm":
        return ["lm", "train", "--steps", "2", option, *two], dlor_main
    return ["lm", "sample", "--model", str(folder / "gpt.safetensors"), "--tokens", "4", option, *two], dlor_main


@pytest.mark.parametrize("command, option", [(c, o) for c, opts in OPTIONS.items() for o in opts])
@settings(max_examples=len(HOSTILE), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.sampled_from(HOSTILE))
def test_hostile_values_get_one_line_or_a_finite_result(command, option, value, files, monkeypatch):
    import dlor._cli.reproduce
    import dlor.lm.trainer

    monkeypatch.setattr(dlor._cli.reproduce, "run_experiment", _stop)
    monkeypatch.setattr(dlor.lm.trainer, "train", _stop)
    argv, entry = _argv(command, option, value, files)
    code, out, err = call_entry_point(entry, argv, stop=(_StopBeforeWork,))
    assert "Traceback" not in err
    if code == 0 or code == "stopped before the work":
        assert not any(word in out.lower().split() for word in ("nan", "inf", "-inf")), out
        return
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, (argv, code, err)


def test_the_property_covers_every_command():
    from dlor._cli.main import SUBCOMMANDS

    numeric = {"reproduce", "decompose", "construct", "pieces", "lm"}  # demo and info take no numbers
    assert numeric == set(SUBCOMMANDS) - {"demo", "info"}
    assert numeric | {"sample"} == set(OPTIONS)  # "lm": dlor lm train; "sample": dlor lm sample
