"""Appendix G on real data: DLoR, pure low-rank and dense hidden layers on scikit-learn's digits.

``dlor reproduce realdata``: ``experiment`` holds the config and ``run``; ``page`` renders the
result page from a run folder."""

from .experiment import CONFIG, run
from .page import page

__all__ = ["CONFIG", "run", "page"]
