"""Appendix G on text: pretraining byte-level GPTs with low-rank, DLoR and dense projections.

``dlor reproduce lm``: ``experiment`` holds the config and ``run``; ``page`` renders the
result page from a run folder."""

from . import claims  # noqa: F401 - registers the wordings of its verdicts
from .experiment import CONFIG, files_intact, run
from .page import page

__all__ = ["CONFIG", "run", "files_intact", "page"]
