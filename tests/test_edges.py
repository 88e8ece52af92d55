"""Hostile files, contradicting options and misuse of the API: each gets one line and exit 2 from
the command (or a DLoRError from the API) before any work, or the intended result; never a
traceback, an allocation past the memory check, or an option that is silently ignored."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from dlor import DLoR, DLoRError, dlorize, load_checkpoint, save_checkpoint
from dlor._cli.main import main
from dlor.construct import save_mlp
from dlor.nn import DLoRLinear
from tests.conftest import call_entry_point


def refused(argv: list[str], *words: str) -> str:
    """Run ``dlor argv`` in this process; assert exit 2 with one line naming ``words``; return it."""
    code, _, err = call_entry_point(main, argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


@pytest.fixture
def matrices(tmp_path):
    np.save(tmp_path / "A.npy", np.eye(4) + 0.1 * np.arange(16).reshape(4, 4))
    from safetensors.torch import save_file

    save_file({"w": torch.eye(4, dtype=torch.float64)}, str(tmp_path / "A.safetensors"))
    return tmp_path


def test_an_empty_npy_is_refused(tmp_path):
    (tmp_path / "e.npy").write_bytes(b"")
    refused(["decompose", str(tmp_path / "e.npy"), "--rank", "1", "--mode", "additive"], "e.npy", "empty")


def test_an_npy_header_larger_than_memory_is_refused_before_reading(tmp_path):
    with open(tmp_path / "huge.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)})
    refused(["decompose", str(tmp_path / "huge.npy"), "--rank", "1", "--mode", "additive"], "huge.npy", "GiB")


def test_an_npy_whose_data_is_shorter_than_its_header_is_refused(tmp_path):
    np.save(tmp_path / "A.npy", np.eye(8))
    data = (tmp_path / "A.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) - 100])
    refused(["decompose", str(tmp_path / "cut.npy"), "--rank", "1", "--mode", "additive"], "cut.npy", "bytes")


def test_an_npy_of_strings_is_refused(tmp_path):
    np.save(tmp_path / "s.npy", np.array([["a", "b"], ["c", "d"]]))
    refused(["decompose", str(tmp_path / "s.npy"), "--rank", "1", "--mode", "additive"], "s.npy", "dtype")


def test_a_write_that_fails_is_one_line(matrices):
    line = refused(
        ["decompose", str(matrices / "A.npy"), "--rank", "1", "--mode", "additive", "--out", "/proc/x.safetensors"],
        "/proc/x.safetensors",
    )
    assert "could not write" in line or "cannot write" in line


def test_an_mlp_with_integer_weights_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file(
        {"0.weight": torch.ones(3, 2, dtype=torch.int64), "0.bias": torch.ones(3, dtype=torch.int64)},
        str(tmp_path / "int.safetensors"),
        metadata={"activation": "tanh"},
    )
    refused(["construct", str(tmp_path / "int.safetensors"), "--mode", "deep"], "int.safetensors", "floating point")


def test_an_mlp_whose_layers_are_not_consecutive_is_refused(tmp_path):
    from safetensors.torch import save_file

    tensors = {"0.weight": torch.ones(3, 2), "0.bias": torch.ones(3), "7.weight": torch.ones(1, 3), "7.bias": torch.ones(1)}
    save_file(tensors, str(tmp_path / "gap.safetensors"), metadata={"activation": "tanh"})
    refused(["construct", str(tmp_path / "gap.safetensors"), "--mode", "deep"], "gap.safetensors", "[0, 7]", "[0, 2]")


def test_an_h_too_small_for_the_dtype_is_refused(tmp_path):
    torch.manual_seed(0)
    save_mlp(nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2)), tmp_path / "m.safetensors")
    refused(["construct", str(tmp_path / "m.safetensors"), "--mode", "deep", "--h", "1e-300"], "h = 1e-300", "float32")


@pytest.mark.parametrize(
    "setting, words",
    [("lr=nan", ("lr", "finite")), ("lr=-1", ("lr", "> 0")), ("n_train=1000000000", ("n_train", "100 times"))],
)
def test_a_bad_set_value_is_refused_before_the_folder_is_touched(tmp_path, setting, words):
    out = tmp_path / "res"
    refused(["reproduce", "fig5", "--budget", "tiny", "--out", str(out), "--set", setting], *words)
    assert not out.exists()


def test_an_option_the_experiment_does_not_have_is_refused(tmp_path):
    refused(["reproduce", "fig5", "--budget", "tiny", "--out", str(tmp_path), "--batch-size", "8"], "--batch-size", "fig5")


def test_a_set_value_and_its_option_that_disagree_are_refused(tmp_path):
    refused(
        ["reproduce", "fig5", "--budget", "tiny", "--out", str(tmp_path), "--set", "seeds=2", "--seeds", "3"],
        "--set seeds=2",
        "--seeds 3",
    )


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--mode", "additive", "--perturb", "0.1"], ("--perturb", "multiplicative only")),
        (["--mode", "nearest", "--alpha", "0.5"], ("--alpha",)),
    ],
)
def test_a_decompose_option_the_mode_does_not_use_is_refused(matrices, extra, words):
    refused(["decompose", str(matrices / "A.npy"), "--rank", "1", *extra], *words)


def test_a_key_for_an_npy_file_is_refused(matrices):
    refused(["decompose", str(matrices / "A.npy"), "--rank", "1", "--mode", "additive", "--key", "w"], "--key", "A.npy")


def test_a_matrix_of_booleans_or_complex_numbers_is_refused(tmp_path):
    from safetensors.torch import save_file

    for name, tensor in (("b", torch.ones(3, 3, dtype=torch.bool)), ("c", torch.ones(3, 3, dtype=torch.complex64))):
        save_file({"w": tensor}, str(tmp_path / f"{name}.safetensors"))
        refused(["decompose", str(tmp_path / f"{name}.safetensors"), "--rank", "1", "--mode", "additive"], "dtype")


def test_construct_rank_with_the_augmented_mode_is_refused(tmp_path):
    save_mlp(nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)), tmp_path / "m.safetensors")
    refused(["construct", str(tmp_path / "m.safetensors"), "--mode", "augmented", "--rank", "2"], "--rank", "augmented")


def test_inputs_that_differ_in_suffix_get_their_own_outputs_and_none_is_overwritten(matrices):
    for name in ("A.npy", "A.safetensors"):
        code, _, err = call_entry_point(main, ["decompose", str(matrices / name), "--rank", "1", "--mode", "additive"])
        assert code == 0, err
    first, second = matrices / "A.npy.additive.safetensors", matrices / "A.safetensors.additive.safetensors"
    assert first.exists() and second.exists()
    before = first.read_bytes()
    refused(["decompose", str(matrices / "A.npy"), "--rank", "2", "--mode", "additive"], "exists", "--force")
    assert first.read_bytes() == before
    code, _, err = call_entry_point(main, ["decompose", str(matrices / "A.npy"), "--rank", "2", "--mode", "additive", "--force"])
    assert code == 0 and first.read_bytes() != before, err


@pytest.fixture(scope="module")
def saved_gpt(tmp_path_factory):
    from dlor.lm import GPT, GPTConfig, save_model

    folder = tmp_path_factory.mktemp("gpt")
    torch.manual_seed(0)
    return save_model(
        GPT(GPTConfig(variant="dlor", n_layer=2, n_head=2, n_embd=16, block_size=8, rank=2)), folder / "g.safetensors"
    )


@pytest.mark.parametrize(
    "field, value", [("vocab_size", 10**9), ("n_layer", 10**6), ("mlp_hidden", 10**9), ("block_size", 10**8)]
)
def test_a_model_config_larger_than_its_weights_is_refused_before_building(saved_gpt, tmp_path, field, value):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(saved_gpt), framework="pt") as f:
        meta, state = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    config = json.loads(meta["dlor.lm.config"]) | {field: value}
    bad = tmp_path / "bad.safetensors"
    save_file(state, str(bad), metadata={"dlor.lm.config": json.dumps(config)})
    refused(["lm", "sample", "--model", str(bad), "--tokens", "3"], "bad.safetensors", field, str(value))


def test_version_prints_the_package_metadata():
    from importlib.metadata import version

    code, out, _ = call_entry_point(main, ["--version"])
    assert code == 0 and out.strip() == f"dlor {version('dlor')}"


def test_the_command_line_imports_no_torch_until_a_command_runs():
    import subprocess
    import sys

    probe = "import sys, dlor._cli.main as m; m.build_parser(); print('torch' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


# the Python API: DLoRError subclasses, never a raw exception


def test_an_empty_dlor_matrix_is_refused():
    with pytest.raises(DLoRError, match="n >= 1"):
        DLoR(1.0, torch.zeros(0, 1), torch.zeros(0, 1))


def test_dlorize_of_something_that_is_not_a_module_is_refused():
    with pytest.raises(DLoRError, match="nn.Module"):
        dlorize("hello", rank=2)  # type: ignore[arg-type]


def test_a_rank_above_the_smaller_side_is_refused():
    with pytest.raises(DLoRError, match="rank 10 is above min"):
        DLoRLinear(5, 5, rank=10)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8))
    with pytest.raises(DLoRError, match="rank 100 is above 8"):
        dlorize(model, rank=100)
    assert all(isinstance(m, (nn.Linear, nn.ReLU)) for m in model)  # nothing changed before the refusal


def test_dlorize_warns_when_a_replacement_is_larger_than_the_layer():
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8))
    with pytest.warns(UserWarning, match=r"module '[02]' \(8 x 8\) has 105 parameters at rank 6 where the nn.Linear had 72"):
        dlorize(model, rank=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dlorize(nn.Sequential(nn.Linear(64, 64)), rank=4)  # smaller: no warning


@pytest.mark.parametrize("kind", ["renamed pickle", "truncated", "empty", "folder"])
def test_load_checkpoint_wraps_file_errors(tmp_path, kind):
    model = nn.Linear(4, 4)
    path = tmp_path / "c.safetensors"
    if kind == "renamed pickle":
        torch.save(model.state_dict(), tmp_path / "c.pt")
        os.replace(tmp_path / "c.pt", path)
    elif kind == "truncated":
        save_checkpoint(model, path)
        path.write_bytes(path.read_bytes()[:40])
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path.mkdir()
    with pytest.raises(DLoRError, match="c.safetensors"):
        load_checkpoint(model, path)


def test_save_checkpoint_onto_a_folder_is_refused(tmp_path):
    with pytest.raises(DLoRError, match="folder"):
        save_checkpoint(nn.Linear(2, 2), tmp_path)
