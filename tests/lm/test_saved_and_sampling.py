"""A trained GPT saved with its config, loaded back exactly, and sampled from its own distribution."""

import json
import subprocess
import sys

import pytest
import torch
from torch.nn import functional as F

import dlor
from dlor.lm import GPT, GPTConfig, load_model, save_model
from dlor.lm.sample import sample_text

SMALL = dict(n_layer=1, n_head=2, n_embd=16, block_size=16, rank=2)
VARIANT_CONFIGS = [
    dict(variant="dense"),
    dict(variant="lowrank"),
    dict(variant="dlor"),
    dict(variant="sparse+lowrank", density=0.25),
]


def _trained_looking(cfg: GPTConfig) -> GPT:
    """A GPT whose parameters are moved off their initial values (alpha included)."""
    torch.manual_seed(1)
    model = GPT(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kwargs", VARIANT_CONFIGS, ids=lambda k: k["variant"])
def test_save_and_load_round_trip_exactly(tmp_path, kwargs, dtype):
    model = _trained_looking(GPTConfig(**SMALL, **kwargs)).to(dtype)
    path = save_model(model, tmp_path / "gpt.safetensors")
    loaded = load_model(path)
    assert loaded.config == model.config and not loaded.training
    assert loaded.head.weight is loaded.wte.weight  # still tied
    for k, v in model.state_dict().items():
        assert loaded.state_dict()[k].dtype == v.dtype and torch.equal(loaded.state_dict()[k], v), k
    x = torch.randint(0, 256, (3, 16))
    assert torch.equal(loaded(x), model(x))


def test_a_training_checkpoint_loads_as_the_trained_model(tmp_path):
    from dlor.lm import TrainSettings, load_corpus, train

    cfg = GPTConfig(variant="dlor", **SMALL)
    rec = train(cfg, TrainSettings(steps=3, batch_size=2, eval_every=3, eval_batches=1), load_corpus(), run_dir=tmp_path)
    loaded = load_model(tmp_path / "checkpoint.safetensors")
    assert loaded.config == cfg
    x = torch.randint(0, 256, (2, 16))
    assert torch.equal(loaded(x), rec["model"].eval()(x))


def test_load_errors_name_the_problem(tmp_path):
    from safetensors.torch import load_file, save_file

    with pytest.raises(dlor.DLoRError, match="no saved model at"):
        load_model(tmp_path / "missing.safetensors")
    path = save_model(GPT(GPTConfig(**SMALL)), tmp_path / "gpt.safetensors")
    torn = tmp_path / "torn.safetensors"
    torn.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(dlor.DLoRError, match="not a readable safetensors file"):
        load_model(torn)
    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(dlor.DLoRError, match="holds no dlor.lm config"):
        load_model(tmp_path / "other.safetensors")
    good = dict(load_file(str(path)))
    meta = {"dlor.lm.config": json.dumps(GPTConfig(**SMALL).to_dict())}
    wrong = good | {"wte.weight": torch.zeros(256, 8)}  # the config says n_embd = 16
    save_file(wrong, str(tmp_path / "inconsistent.safetensors"), metadata=meta)
    with pytest.raises(dlor.DLoRError, match="its config says n_embd = 16 but its weights have 8"):
        load_model(tmp_path / "inconsistent.safetensors")
    misfit = good | {"blocks.0.ln_1.weight": torch.zeros(8)}
    save_file(misfit, str(tmp_path / "misfit.safetensors"), metadata=meta)
    with pytest.raises(dlor.DLoRError, match=r"does not fit this model: shape mismatch blocks.0.ln_1.weight: checkpoint \(8,\)"):
        load_model(tmp_path / "misfit.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "bad.safetensors"), metadata={"dlor.lm.config": '{"n_embd": 0}'})
    with pytest.raises(dlor.DLoRError, match="config cannot build a GPT .*n_embd must be a positive integer"):
        load_model(tmp_path / "bad.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "odd.safetensors"), metadata={"dlor.lm.config": '{"depth": 3}'})
    with pytest.raises(dlor.DLoRError, match="config cannot build a GPT .*depth"):
        load_model(tmp_path / "odd.safetensors")
    with pytest.raises(dlor.DLoRError, match=r"saved as \.safetensors"):
        save_model(GPT(GPTConfig(**SMALL)), tmp_path / "gpt.pt")
    with pytest.raises(dlor.DLoRError, match="takes a dlor.lm.GPT"):
        save_model(torch.nn.Linear(2, 2), tmp_path / "lin.safetensors")


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_generate_samples_the_models_next_byte_distribution(temperature):
    model = _trained_looking(GPTConfig(**SMALL)).eval()
    prompt = torch.tensor([list(b"to be")])
    with torch.no_grad():
        probs = F.softmax(model(prompt)[0, -1].double() / temperature, dim=-1)
    n = 20_000
    out = model.generate(prompt.expand(n, -1), 1, temperature=temperature, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[:, :5], prompt.expand(n, -1))
    freq = torch.bincount(out[:, -1], minlength=256).double() / n
    # total variation between the empirical and the model's distribution: its expected value for
    # n draws is about sum_i sqrt(p_i (1 - p_i) / n) sqrt(2 / pi) / 2 (0.044 and 0.042 here)
    expected = float((probs * (1 - probs) / n).sqrt().sum() * (2 / torch.pi) ** 0.5 / 2)
    threshold = 2 * expected
    assert float((freq - probs).abs().sum() / 2) < threshold
    # the check has power: a uniform sampler would be off by more than the threshold
    assert float((probs - 1 / 256).abs().sum() / 2) > threshold
    top3 = set(torch.topk(probs, 3).indices.tolist())
    out3 = model.generate(prompt.expand(2000, -1), 1, top_k=3, generator=torch.Generator().manual_seed(0))
    assert set(out3[:, -1].tolist()) == top3


def test_greedy_generation_follows_the_argmax_past_the_block_size():
    model = _trained_looking(GPTConfig(**SMALL)).eval()
    prompt = torch.randint(0, 256, (2, 12))
    out = model.generate(prompt, 10, top_k=1)  # 22 tokens: the context is cropped to the last 16
    idx = prompt
    for _ in range(10):
        nxt = model(idx[:, -16:])[:, -1].argmax(-1, keepdim=True)
        idx = torch.cat([idx, nxt], dim=1)
    assert torch.equal(out, idx)
    g1, g2 = (model.generate(prompt, 8, generator=torch.Generator().manual_seed(5)) for _ in range(2))
    assert torch.equal(g1, g2)  # one seed, one text


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda m: m.generate(torch.tensor([1, 2]), 3), "integer tensor of tokens"),
        (lambda m: m.generate(torch.zeros(1, 0, dtype=torch.long), 3), "integer tensor of tokens"),
        (lambda m: m.generate(torch.ones(1, 2), 3), "integer tensor of tokens"),
        (lambda m: m.generate(torch.tensor([[1, 256]]), 3), r"tokens must lie in \[0, 256\)"),
        (lambda m: m.generate(torch.tensor([[1, 2]]), -1), "max_new_tokens"),
        (lambda m: m.generate(torch.tensor([[1, 2]]), 3, temperature=0.0), "temperature must be > 0"),
        (lambda m: m.generate(torch.tensor([[1, 2]]), 3, top_k=0), "top_k must lie in"),
    ],
)
def test_generate_bad_input(call, match):
    with pytest.raises(dlor.DLoRError, match=match):
        call(GPT(GPTConfig(**SMALL)))


def test_sample_command_prints_the_prompt_and_its_continuation(tmp_path):
    model = _trained_looking(GPTConfig(**SMALL))
    path = save_model(model, tmp_path / "gpt.safetensors")
    cmd = [
        sys.executable,
        "-m",
        "dlor",
        "lm",
        "sample",
        "--model",
        str(path),
        "--prompt",
        "ROMEO:",
        "--tokens",
        "12",
        "--seed",
        "3",
        "--top-k",
        "5",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    expected = sample_text(load_model(path), "ROMEO:", 12, top_k=5, seed=3)
    assert res.stdout == expected + "\n" and expected.startswith("ROMEO:")
    bad = subprocess.run(
        [sys.executable, "-m", "dlor", "lm", "sample", "--model", str(tmp_path / "none.safetensors")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "no saved model" in bad.stderr
