"""Model shapes of ``dlor reproduce lm``: a dense GPT matched in parameters, and the baselines of the loss."""

from __future__ import annotations

from dataclasses import replace

import torch

from ..._errors import DLoRError
from ...lm import GPTConfig
from ...lm.data import VOCAB_SIZE

__all__ = ["PARAM_TOLERANCE", "matched_dense", "unigram_loss"]

PARAM_TOLERANCE = 0.02  # matched parameter counts agree within 2%


def _params(c: GPTConfig) -> int:
    """Parameters of a dense GPT, counted without building it."""
    h = c.mlp_hidden if c.mlp_hidden is not None else 4 * c.n_embd  # GPTConfig fills it in
    d, L, V, T = c.n_embd, c.n_layer, c.vocab_size, c.block_size
    return V * d + T * d + L * (4 * d + 4 * d * d + 2 * d * h) + 2 * d


def matched_dense(target: int, like: GPTConfig) -> GPTConfig:
    """The dense GPT (width a multiple of ``n_head``, then its MLP width tuned) closest to ``target`` parameters."""
    best = None
    for d in range(like.n_head, like.n_embd + 1, like.n_head):
        fixed = _params(replace(like, variant="dense", n_embd=d, mlp_hidden=1)) - 2 * d * like.n_layer
        h = max(1, round((target - fixed) / (2 * d * like.n_layer)))
        c = GPTConfig(
            variant="dense",
            n_layer=like.n_layer,
            n_head=like.n_head,
            n_embd=d,
            block_size=like.block_size,
            mlp_hidden=h,
            vocab_size=like.vocab_size,
        )
        if h <= 8 * d and (best is None or abs(_params(c) - target) < abs(_params(best) - target)):
            best = c
    if best is None or abs(_params(best) - target) > PARAM_TOLERANCE * target:
        raise DLoRError(f"no dense GPT of width <= {like.n_embd} matches {target:,} parameters within 2%")
    return best


def unigram_loss(corpus) -> float:
    """Cross-entropy (nats per byte) of the validation split under the training split's byte frequencies
    (add-one smoothing): what a model that ignores context reaches."""
    counts = torch.bincount(corpus.train.long(), minlength=VOCAB_SIZE).double() + 1
    logp = (counts / counts.sum()).log()
    return float(-logp[corpus.val.long()].mean())
