"""Appendix G after pretraining: DLoR adapters on a pretrained model under domain shift, against
PEFT's LoRA and DoRA, with affine drift and decoupled fine-tuning measured.

``dlor reproduce finetune``: ``experiment`` holds the config and ``run``; ``page`` renders the
result page from a run folder."""

from . import claims  # noqa: F401 - registers the wordings of its verdicts
from .experiment import CONFIG, run
from .page import page

__all__ = ["CONFIG", "run", "page"]
