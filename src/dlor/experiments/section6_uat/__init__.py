"""Section 6.1 / Appendix H.1: a trained sawtooth MLP compiled into deep and wide DLoR networks (Figures 2 and 3).

``dlor reproduce uat``: ``experiment`` holds the config and ``run``; ``page`` renders the
result page from a run folder."""

from .experiment import CONFIG, run
from .page import page

__all__ = ["CONFIG", "run", "page"]
