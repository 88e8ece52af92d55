"""``python -m dlor.lm.sample``: text from a GPT saved by ``python -m dlor.lm --out FILE``.

    python -m dlor.lm --variant dlor --steps 2000 --out gpt.safetensors
    python -m dlor.lm.sample --model gpt.safetensors --prompt "ROMEO:" --tokens 300 --top-k 40

Bytes in, bytes out: the prompt is encoded as UTF-8 and the sample decoded with ``errors=
"replace"`` (a byte-level model can emit byte sequences that are not UTF-8).
"""

from __future__ import annotations

import sys

import torch

from .._errors import DLoRError
from .._options import MAX_SEED, OneLineParser, bounded_float, bounded_int
from .saved import load_model


def sample_text(model, prompt: str, tokens: int, temperature: float = 1.0, top_k: int | None = None,
                seed: int = 0) -> str:
    """``prompt`` followed by ``tokens`` sampled bytes, decoded (see :meth:`dlor.lm.GPT.generate`)."""
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise DLoRError("the model holds NaN or Inf weights (its training diverged); it cannot be sampled. "
                        "Train it again with a smaller --lr")
    data = prompt.encode("utf-8") or b"\n"  # an empty prompt starts from a newline
    device = next(model.parameters()).device
    idx = torch.tensor([list(data)], dtype=torch.long, device=device)
    out = model.generate(idx, tokens, temperature=temperature, top_k=top_k, generator=torch.Generator().manual_seed(seed))
    return bytes(out[0].tolist()).decode("utf-8", errors="replace")


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m dlor.lm.sample", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="a .safetensors file written by python -m dlor.lm --out")
    p.add_argument("--prompt", default="\n")
    p.add_argument("--tokens", type=bounded_int(0, 10**6), default=200, help="bytes to sample after the prompt")
    p.add_argument("--temperature", type=bounded_float(1e-3, 1e3, lo_open=False), default=1.0)
    p.add_argument("--top-k", type=bounded_int(1, 256), default=None)
    p.add_argument("--seed", type=bounded_int(0, MAX_SEED), default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    args = p.parse_args(argv)
    try:
        model = load_model(args.model, device=args.device)
        text = sample_text(model, args.prompt, args.tokens, args.temperature, args.top_k, args.seed)
    except DLoRError as err:
        print(f"dlor.lm.sample: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
