"""Section 6.2 / Appendix H.2: deep, wide and dense models trained on the sawtooth (Table 1, Figures 4 and 6).

``dlor reproduce training``: ``experiment`` holds the config and ``run``; ``page`` renders the
result page from a run folder."""

from .experiment import CONFIG, run
from .page import page

__all__ = ["CONFIG", "run", "page"]
