"""Text from a GPT saved by ``dlor lm train --out FILE`` (the library side of ``dlor lm sample``).

    dlor lm train --variant dlor --steps 2000 --out gpt.safetensors
    dlor lm sample --model gpt.safetensors --prompt "ROMEO:" --tokens 300 --top-k 40

Bytes in, bytes out: the prompt is encoded as UTF-8 and the sample decoded with ``errors=
"replace"`` (a byte-level model can emit byte sequences that are not UTF-8).
"""

from __future__ import annotations

import torch

from .._errors import DLoRError


def sample_text(model, prompt: str, tokens: int, temperature: float = 1.0, top_k: int | None = None, seed: int = 0) -> str:
    """``prompt`` followed by ``tokens`` sampled bytes, decoded (see [`dlor.lm.GPT.generate`][dlor.lm.GPT.generate])."""
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise DLoRError(
            "the model holds NaN or Inf weights (its training diverged); it cannot be sampled. Train it again with a smaller --lr"
        )
    data = prompt.encode("utf-8") or b"\n"  # an empty prompt starts from a newline
    device = next(model.parameters()).device
    idx = torch.tensor([list(data)], dtype=torch.long, device=device)
    out = model.generate(idx, tokens, temperature=temperature, top_k=top_k, generator=torch.Generator().manual_seed(seed))
    return bytes(out[0].tolist()).decode("utf-8", errors="replace")
