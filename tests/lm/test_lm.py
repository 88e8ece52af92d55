"""The byte-level GPT (dlor.lm.model), its corpus (dlor.lm.data), its trainer (resume, DDP, compile) and `dlor lm train`."""

import math
import subprocess
import sys

import pytest
import torch

import dlor
import dlor.lm.trainer as lm_train
from dlor.lm import GPT, GPTConfig, TrainSettings, load_corpus, train
from dlor.lm.data import VALIDATION_FRACTION, corpus_files
from tests._torchrun import torchrun_two_processes
from tests.tolerances import TRAINING_FLOAT64, tol

SMALL = dict(n_layer=1, n_head=2, n_embd=16, block_size=16, rank=2)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_corpus_is_real_text_with_a_fixed_split(corpus):
    files = corpus_files()
    assert len(files) == 42 and corpus.num_bytes > 5_000_000  # a corpus of at least 1 MB
    assert abs(corpus.val.numel() / corpus.num_bytes - VALIDATION_FRACTION) < 1e-3
    assert bytes(corpus.train[:25].tolist()) == b"ALL'S WELL THAT ENDS WELL"  # alls_well_that_ends_well_gut.txt comes first
    again = load_corpus()
    assert torch.equal(again.train, corpus.train) and torch.equal(again.val, corpus.val)


@pytest.mark.parametrize("variant", ["dense", "lowrank", "dlor", "sparse+lowrank"])
def test_every_variant_trains_under_autocast(variant):
    """A bfloat16-autocast forward gives the float32 loss to bfloat16's tolerance, with finite gradients."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(variant=variant, density=0.25, **SMALL))
    x = torch.randint(0, 256, (2, 16))
    _, ref = model(x, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, loss = model(x, x)
    torch.testing.assert_close(loss.float(), ref.detach(), **tol("layer", torch.bfloat16))
    grads = torch.autograd.grad(loss, list(model.parameters()))
    assert all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(variant="big"), "unknown variant"),
        (dict(variant="dlor", rank=17), "larger than the width"),
        (dict(variant="sparse+lowrank", density=1.5), r"density .* \(0, 1\)"),
        (dict(variant="sparse+lowrank", density=0.0), r"density .* \(0, 1\)"),
        (dict(variant="sparse+lowrank"), "needs a density"),
    ],
)
def test_bad_model_config(kwargs, match):
    with pytest.raises(dlor.DLoRError, match=match):
        GPTConfig(**(SMALL | kwargs))


def test_bad_corpus_and_block(tmp_path, corpus):
    with pytest.raises(dlor.DLoRError, match="does not exist"):
        load_corpus([tmp_path / "missing.txt"])
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(dlor.DLoRError, match="is empty"):
        load_corpus([tmp_path / "empty.txt"])
    with pytest.raises(dlor.DLoRError, match="is a folder; pass the text files in it"):
        load_corpus([tmp_path])
    (tmp_path / "short.txt").write_bytes(b"to be or not to be" * 5)  # 9 validation bytes
    with pytest.raises(dlor.DLoRError, match="larger than the validation split"):
        train(GPTConfig(**SMALL), TrainSettings(steps=1), load_corpus([tmp_path / "short.txt"]))


def test_cli_errors_are_one_line_with_exit_2(tmp_path):
    from dlor._cli.main import main
    from tests.conftest import call_entry_point

    (tmp_path / "empty.txt").write_bytes(b"")
    for args, words in [
        (["--variant", "big"], "unknown variant"),
        (["--rank", "500"], "larger than the width"),
        (["--variant", "sparse+lowrank", "--density", "2"], "density"),
        (["--corpus", str(tmp_path / "empty.txt")], "is empty"),
        (["--block", "1000000"], "GiB, more than half of this machine's"),
        (["--corpus", str(tmp_path)], "is a folder"),
        (["--out", str(tmp_path / "model.pt")], "saved as .safetensors"),
        (["--device", "tpu"], "--device must be cpu, cuda or cuda:N"),
        *([(["--device", "cuda"], "CUDA is not available on this machine")] if not torch.cuda.is_available() else []),
    ]:
        code, _, err = call_entry_point(main, ["lm", "train", "--steps", "1", *args])  # in this process: its own errors
        assert code == 2, err
        assert words in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_train_on_cuda_without_it_names_the_way_out(corpus):
    # torch itself would fail at the first .to("cuda") with "Torch not compiled with CUDA enabled"
    with pytest.raises(dlor.DLoRError, match=r"CUDA is not available on this machine .*use device='cpu'"):
        train(GPTConfig(**SMALL), TrainSettings(steps=1), corpus, device="cuda")


@pytest.mark.parametrize("variant", ["dense", "lowrank", "dlor", "sparse+lowrank"])
def test_variants_train_below_a_uniform_byte_model(variant, corpus):
    cfg = GPTConfig(variant=variant, density=0.2, **SMALL)
    rec = train(cfg, TrainSettings(steps=30, batch_size=8, lr=3e-3, warmup=5, eval_every=30, eval_batches=2), corpus)
    assert math.isfinite(rec["val_loss"]) and rec["val_loss"] < math.log(256)
    model = rec["model"]
    if variant == "lowrank":
        assert all(float(b.attn.q.alpha) == 0 and "alpha" not in dict(b.attn.q.named_parameters()) for b in model.blocks)
    if variant == "dlor":
        assert any(float(b.attn.q.alpha.detach()) != 1.0 for b in model.blocks)  # alpha trains


def test_resume_after_an_interruption_is_exact(tmp_path, corpus, monkeypatch):
    cfg = GPTConfig(variant="dlor", **SMALL)
    s = TrainSettings(steps=10, batch_size=4, eval_every=5, eval_batches=1, checkpoint_every=4, dtype="float64")
    whole = train(cfg, s, corpus)
    calls = {"n": 0}
    real = lm_train.sample_batch

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # during step 7, after the checkpoint of step 4 (and one evaluation)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(lm_train, "sample_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, s, corpus, run_dir=tmp_path)
    monkeypatch.setattr(lm_train, "sample_batch", real)
    resumed = train(cfg, s, corpus, run_dir=tmp_path)
    for (k, a), b in zip(whole["model"].state_dict().items(), resumed["model"].state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert resumed["history"] == whole["history"]
    # a torn checkpoint is set aside and the run starts again, to the same result
    (tmp_path / "checkpoint.safetensors").write_bytes(b"torn")
    again = train(cfg, s, corpus, run_dir=tmp_path)
    assert again["history"] == whole["history"]
    assert list(tmp_path.glob("checkpoint.safetensors.*"))  # the torn file is kept aside


@pytest.mark.slow  # torchrun; make test keeps the DDP run of dlor reproduce
def test_two_process_ddp_equals_single_process(tmp_path):
    from safetensors.torch import load_file

    common = [
        "-m",
        "dlor",
        "lm",
        "train",
        "--steps",
        "3",
        "--batch",
        "8",
        "--dtype",
        "float64",
        "--n-layer",
        "1",
        "--n-embd",
        "16",
        "--n-head",
        "2",
        "--block",
        "16",
        "--rank",
        "2",
    ]
    two, logs = torchrun_two_processes(common, tmp_path / "two.safetensors", tmp_path / "logs")
    assert two.returncode == 0, f"{two.stderr[-1500:]}\n{logs}"
    assert "processes: 2" in logs
    one = subprocess.run(
        [sys.executable, *common, "--out", str(tmp_path / "one.safetensors")], capture_output=True, text=True, timeout=600
    )
    assert one.returncode == 0, one.stderr[-2000:]
    a, b = load_file(str(tmp_path / "two.safetensors")), load_file(str(tmp_path / "one.safetensors"))
    assert set(a) == set(b)
    for k in a:
        torch.testing.assert_close(a[k], b[k], **TRAINING_FLOAT64)


@pytest.mark.parametrize("variant", ["dense", "lowrank", "dlor", "sparse+lowrank"])
def test_torch_compile_matches_eager(variant):
    torch.manual_seed(0)
    model = GPT(GPTConfig(variant=variant, density=0.25, **SMALL))
    x = torch.randint(0, 256, (2, 16))
    logits, loss = model(x, x)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    # one graph, no break, except sparse + low-rank: Dynamo does not trace sparse CSR tensors
    compiled = torch.compile(model, fullgraph=variant != "sparse+lowrank")
    c_logits, c_loss = compiled(x, x)
    c_grads = torch.autograd.grad(c_loss, list(model.parameters()))
    torch.testing.assert_close(c_logits, logits, **tol("grad", torch.float32))
    for g, cg in zip(grads, c_grads, strict=True):
        torch.testing.assert_close(cg, g, **tol("grad", torch.float32))


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path, corpus):
    cfg = GPTConfig(variant="dlor", **SMALL)
    short = TrainSettings(steps=4, batch_size=4, eval_every=4, eval_batches=1, checkpoint_every=2, dtype="float64")
    train(cfg, short, corpus, run_dir=tmp_path)
    longer = TrainSettings(steps=6, batch_size=4, eval_every=6, eval_batches=1, checkpoint_every=2, dtype="float64")
    resumed = train(cfg, longer, corpus, run_dir=tmp_path)
    fresh = train(cfg, longer, corpus)
    assert resumed["history"] == fresh["history"]  # started again: the cosine schedule depends on the step count
    assert list(tmp_path.glob("checkpoint.safetensors.*"))
