"""Appendix H.3: spectral contributions inside trained deep and wide DLoR layers (Figures 2(c), 3(c)).

``dlor reproduce spectral``: ``experiment`` holds the config and ``run``; ``page`` renders the
result page from a run folder."""

from .experiment import CONFIG, run
from .page import page

__all__ = ["CONFIG", "run", "page"]
