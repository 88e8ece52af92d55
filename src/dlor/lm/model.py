r"""A small decoder-only transformer (GPT) whose projections are dense, low-rank, DLoR or sparse plus low-rank.

In the style of nanoGPT (Karpathy): one readable file, pre-norm blocks, causal self-attention
through ``F.scaled_dot_product_attention``, a GELU MLP, learned positions, the output head tied
to the token embedding. Every projection (attention q, k, v and output; MLP up and down) is one
of the [`VARIANTS`][dlor.lm.model.VARIANTS], built by ``projection``:

* ``dense``: ``nn.Linear``;
* ``lowrank``: ``U V^T`` with ``alpha`` fixed at 0 (a [`DLoRLinear`][dlor.nn.DLoRLinear] whose
  ``alpha`` is a zero buffer, so the two structured variants share code and initialisation);
* ``dlor``: ``alpha I + U V^T`` with one trainable ``alpha`` per projection (Definition 3),
  rectangular as in Remark 2 for the MLP's up and down projections (``alpha`` acts on the input
  zero-padded or truncated to the output width);
* ``sparse+lowrank``: ``S + U V^T`` with a fixed random support of ``S`` (SLTrain, Han et al.,
  NeurIPS 2024), [`SparseLowRankLinear`][dlor.nn.SparseLowRankLinear].

Embeddings, layer norms and the head are dense in every variant. No projection has a bias. The
paper's Appendix G argues that ``U V^T`` alone cannot learn a weight's orthogonal tail from
scratch and that ``alpha I`` restores universal approximation; this model tests it on text.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._errors import DLoRError, check_rank
from ..nn import DLoRLinear, SparseLowRankLinear
from ..nn._sparse_lowrank import PRODUCTS, check_density

__all__ = ["FACTOR_INITS", "GPT", "GPTConfig", "VARIANTS", "projection"]

VARIANTS = ("dense", "lowrank", "dlor", "sparse+lowrank")
FACTOR_INITS = ("random", "zero_u")


@dataclass
class GPTConfig:
    """Shapes, the projection variant and how its factors start.

    ``rank`` is used by the structured variants, ``density`` (the fraction of trainable entries
    of ``S``) by ``sparse+lowrank``; ``mlp_hidden`` defaults to ``4 n_embd``.

    The initialisation of the structured projections is part of the config, since it can decide
    a comparison of variants (``dlor reproduce lm`` crosses these choices):

    * ``alpha_init``: ``alpha`` at the start in the square projections (``n_in == n_out``: the
      attention q, k, v and out) of ``dlor``. 1 starts each projection at the identity plus a
      low-rank term, as the DLoR blocks of Theorem 5 (``h -> 0``) and DLR's fixed residual do;
      0 starts it at ``U V^T`` alone.
    * ``alpha_init_rect``: the same for the rectangular MLP projections (Remark 2: ``alpha``
      acts on the input truncated or zero-padded to the output width). ``None``: no ``alpha I``
      there at all (``alpha`` is a zero buffer); the square projections keep theirs.
    * ``alpha_trainable``: ``alpha`` is learned (default) or kept at its initial value, as DLR
      (low rank plus a fixed ``alpha``-scaled residual) keeps it.
    * ``factor_init``: ``"random"`` draws both factors (``V ~ N(0, 1/n)``, ``U ~ N(0, 1/(3r))``,
      [`DLoRLinear`][dlor.nn.DLoRLinear]), the choice for training from scratch; ``"zero_u"`` starts
      the output factor ``U`` at 0, as LoRA (Hu et al. 2022) starts its ``B`` and as SLTrain,
      ReLoRA and LTE start one factor of their low-rank parts. It applies to every structured
      variant (``lowrank``, ``dlor``, ``sparse+lowrank``).

    ``sparse_product`` (``sparse+lowrank`` only): ``"sparse"`` applies ``S`` as a sparse product
    and never forms a projection's weight; ``"dense"`` forms ``S + U V^T`` once per step and
    applies it as one dense product, the same function and faster on a CPU at small widths (see
    [`SparseLowRankLinear`][dlor.nn.SparseLowRankLinear]).
    """

    variant: str = "dlor"
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    rank: int = 16
    density: float | None = None
    mlp_hidden: int | None = None
    vocab_size: int = 256
    alpha_init: float = 1.0
    alpha_init_rect: float | None = 1.0
    alpha_trainable: bool = True
    factor_init: str = "random"
    sparse_product: str = "sparse"

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise DLoRError(f"unknown variant {self.variant!r}; choose one of {', '.join(VARIANTS)}")
        for name in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DLoRError(f"{name} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head:
            raise DLoRError(f"n_embd = {self.n_embd} must be divisible by n_head = {self.n_head}")
        if self.mlp_hidden is None:
            self.mlp_hidden = 4 * self.n_embd
        if self.variant != "dense":
            check_rank(self.rank)
            if self.rank > min(self.n_embd, self.mlp_hidden):
                raise DLoRError(
                    f"rank {self.rank} is larger than the width (n_embd = {self.n_embd}, "
                    f"mlp_hidden = {self.mlp_hidden}); use rank <= {min(self.n_embd, self.mlp_hidden)}"
                )
        if self.factor_init not in FACTOR_INITS:
            raise DLoRError(f"unknown factor_init {self.factor_init!r}; choose one of {', '.join(FACTOR_INITS)}")
        for name in ("alpha_init", "alpha_init_rect"):
            value = getattr(self, name)
            if value is None and name == "alpha_init_rect":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise DLoRError(f"{name} must be a finite number, got {value!r}")
        if not isinstance(self.alpha_trainable, bool):
            raise DLoRError(f"alpha_trainable must be True or False, got {self.alpha_trainable!r}")
        if self.variant == "sparse+lowrank":
            if self.density is None:
                raise DLoRError("variant 'sparse+lowrank' needs a density of its sparse part in (0, 1)")
            check_density(self.density)
        if self.sparse_product not in PRODUCTS:
            raise DLoRError(f"unknown sparse_product {self.sparse_product!r}; choose one of {', '.join(PRODUCTS)}")

    def to_dict(self) -> dict:
        return asdict(self)


def projection(cfg: GPTConfig, n_in: int, n_out: int, seed: int) -> nn.Module:
    """One projection ``n_in -> n_out`` of the configured variant (``seed``: the sparse support),
    initialised as ``cfg`` says (see [`GPTConfig`][dlor.lm.model.GPTConfig])."""
    if cfg.variant == "dense":
        return nn.Linear(n_in, n_out, bias=False)
    layer: nn.Module
    if cfg.variant == "sparse+lowrank":
        assert cfg.density is not None  # GPTConfig requires it for this variant
        layer = SparseLowRankLinear(n_in, n_out, cfg.rank, cfg.density, bias=False, support_seed=seed, product=cfg.sparse_product)
    else:
        alpha = (cfg.alpha_init if n_in == n_out else cfg.alpha_init_rect) if cfg.variant == "dlor" else None
        layer = DLoRLinear(
            n_in,
            n_out,
            cfg.rank,
            bias=False,
            alpha_trainable=alpha is not None and cfg.alpha_trainable,
            alpha_init=0.0 if alpha is None else float(alpha),
        )
    if cfg.factor_init == "zero_u":
        with torch.no_grad():
            layer.U.zero_()
    return layer


def _causal_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """``softmax(q k^T / sqrt(d) + causal mask) v`` in plain operations, ``(B, H, T, d)``: what
    ``F.scaled_dot_product_attention(..., is_causal=True)`` computes, for ``torch.func`` transforms."""
    T = q.shape[-2]
    scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig, seed: int):
        super().__init__()
        d = cfg.n_embd
        self.n_head = cfg.n_head
        self.q, self.k, self.v, self.out = (projection(cfg, d, d, seed + i) for i in range(4))

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        heads = lambda t: t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # noqa: E731
        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        if torch._C._are_functorch_transforms_active():
            y = _causal_attention(q, k, v)  # vmap has no batching rule for the fused CPU kernel
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig, seed: int):
        super().__init__()
        hidden = cfg.mlp_hidden if cfg.mlp_hidden is not None else 4 * cfg.n_embd  # GPTConfig fills it in
        self.up = projection(cfg, cfg.n_embd, hidden, seed)
        self.down = projection(cfg, hidden, cfg.n_embd, seed + 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig, seed: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg, seed)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = MLP(cfg, seed + 4)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """``idx (B, T) int64 -> logits (B, T, vocab)``; with ``targets``, also the mean cross-entropy (nats per token)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.config = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg, seed=8 * i) for i in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.head.weight = self.wte.weight  # tied, as in GPT-2 and nanoGPT
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.02)
        # every projection keeps its own layer's documented initialisation (nn.Linear's default for dense)

    def forward(self, idx: Tensor, targets: Tensor | None = None):
        T = idx.shape[1]
        if T > self.config.block_size:
            raise DLoRError(f"sequence of length {T} is longer than block_size = {self.config.block_size}")
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        if targets is None:
            return logits
        return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    @torch.no_grad()
    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Sample ``max_new_tokens`` bytes after the prompt ``idx`` ``(B, T) int64 -> (B, T + max_new_tokens)``.

        Each new token is drawn from ``softmax(logits / temperature)`` at the last position, over
        the ``top_k`` most likely tokens when given (``top_k = 1``: greedy), with the context
        cropped to the last ``block_size`` tokens, as in nanoGPT. No key-value cache: the model's
        positions are learned absolute embeddings added at the input, so once the context is
        longer than ``block_size`` and the window slides, every kept token moves to a new position
        and its cached keys and values no longer hold; a cache would serve only the first
        ``block_size`` tokens. Each step runs the model on the cropped context (``block_size``
        tokens at most), which keeps sampling a few milliseconds per token at the library's sizes.
        Put the model in ``eval()`` mode first (it has no dropout, so the two modes give the same
        tokens). The draws are made on the CPU, from
        ``generator`` (a CPU ``torch.Generator``) when given, so one seed gives the same text on
        any device up to the logits' rounding there.

        Raises:
            DLoRError: ``idx`` is not a non-empty 2-D integer tensor of tokens in ``[0, vocab)``,
                ``max_new_tokens < 0``, ``temperature <= 0`` or ``top_k`` outside ``[1, vocab]``.
        """
        vocab = self.config.vocab_size
        if not isinstance(idx, Tensor) or idx.dim() != 2 or idx.shape[1] == 0 or idx.dtype.is_floating_point or idx.is_complex():
            got = f"shape {tuple(idx.shape)} and dtype {idx.dtype}" if isinstance(idx, Tensor) else type(idx).__name__
            raise DLoRError(f"the prompt must be a (batch, length >= 1) integer tensor of tokens, got {got}")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= vocab):
            raise DLoRError(f"prompt tokens must lie in [0, {vocab}), got {int(idx.min())}..{int(idx.max())}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise DLoRError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
        if not temperature > 0:
            raise DLoRError(f"temperature must be > 0, got {temperature!r}; use top_k=1 for greedy decoding")
        if top_k is not None and not 1 <= top_k <= vocab:
            raise DLoRError(f"top_k must lie in [1, {vocab}], got {top_k!r}")
        idx = idx.long()
        for _ in range(max_new_tokens):
            logits = self(idx[:, -self.config.block_size :])[:, -1, :].float() / temperature
            if top_k is not None:
                kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = F.softmax(logits, dim=-1)
            nxt = torch.multinomial(probs.cpu(), 1, generator=generator).to(idx.device)
            idx = torch.cat([idx, nxt], dim=1)
        return idx

    def num_params(self) -> int:
        """Trainable scalars, the tied embedding counted once."""
        return sum(p.numel() for p in self.parameters())

    def projection_params(self) -> int:
        """Trainable scalars of the projections (attention and MLP) alone."""
        blocks: list[Block] = list(self.blocks)  # type: ignore[arg-type]
        return sum(p.numel() for b in blocks for m in (b.attn, b.mlp) for p in m.parameters())
