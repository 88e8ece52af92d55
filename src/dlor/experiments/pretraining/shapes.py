"""Model shapes of ``dlor reproduce lm``: a dense GPT matched in parameters, and the baselines of the loss."""

from __future__ import annotations

from dataclasses import replace

import torch

from ..._errors import DLoRError
from ...lm import GPTConfig
from ...lm.data import VOCAB_SIZE

__all__ = ["PARAM_TOLERANCE", "SLTRAIN_TOLERANCE", "SLTRAIN_DENSITY", "matched_dense", "matched_sltrain", "unigram_loss"]

PARAM_TOLERANCE = 0.02  # matched parameter counts agree within 2%
SLTRAIN_TOLERANCE = 0.01  # sparse+lowrank matches DLoR's parameters within 1%
SLTRAIN_DENSITY = 0.03  # SLTrain's density of S (Han et al. 2024)


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


def _projection_shapes(c: GPTConfig) -> list[tuple[int, int]]:
    h = c.mlp_hidden if c.mlp_hidden is not None else 4 * c.n_embd
    d = c.n_embd
    return c.n_layer * ([(d, d)] * 4 + [(d, h), (h, d)])


def _nnz(c: GPTConfig, density: float) -> int:
    return sum(max(1, round(density * m * n)) for m, n in _projection_shapes(c))


def matched_sltrain(target: int, like: GPTConfig, density: float = SLTRAIN_DENSITY) -> GPTConfig:
    """The ``sparse+lowrank`` GPT (SLTrain: ``S + U V^T``, ``S`` on a fixed random support) with
    ``target`` parameters within 1%, at ``like``'s shapes.

    The rank ``r' <= like.rank`` and the density follow one rule: for each ``r'``, the density
    that fills the parameters ``U V^T`` leave over (``target`` minus a low-rank GPT of rank
    ``r'``) is computed, and the ``r'`` whose density is closest to SLTrain's ``density`` (0.03)
    wins; its density is kept to 4 significant digits. SLTrain's own rank at 0.03 would overshoot
    the budget, so the sparse part's density gives way rather than the rank.
    """
    from ...lm import GPT

    entries = sum(m * n for m, n in _projection_shapes(like))
    best = None
    for r in range(1, like.rank + 1):
        low_params = GPT(replace(like, variant="lowrank", rank=r, alpha_init=1.0, alpha_init_rect=1.0)).num_params()
        left = target - low_params
        if left <= 0:
            continue
        d = float(f"{left / entries:.4g}")
        if 0 < d < 1 and (best is None or abs(d - density) < abs(best[1] - density)):
            best = (r, d, low_params)
    if best is None:
        raise DLoRError(f"no sparse+lowrank GPT of rank <= {like.rank} matches {target:,} parameters")
    r, d, low_params = best
    config = replace(like, variant="sparse+lowrank", rank=r, density=d, alpha_init=1.0, alpha_init_rect=1.0)
    got = low_params + _nnz(config, d)
    if abs(got - target) > SLTRAIN_TOLERANCE * target:
        raise DLoRError(f"the sparse+lowrank GPT closest to {target:,} parameters has {got:,}, more than 1% away")
    return config


def unigram_loss(corpus) -> float:
    """Cross-entropy (nats per byte) of the validation split under the training split's byte frequencies
    (add-one smoothing): what a model that ignores context reaches."""
    counts = torch.bincount(corpus.train.long(), minlength=VOCAB_SIZE).double() + 1
    logp = (counts / counts.sum()).log()
    return float(-logp[corpus.val.long()].mean())
