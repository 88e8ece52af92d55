"""Section 3.2 / Figure 5: orthogonal blindness of a rank-1 hidden layer, and its cure by DLoR.

``dlor reproduce fig5``: ``experiment`` holds the config and ``run``; ``page`` renders the
result page from a run folder."""

from .experiment import CONFIG, run
from .page import page

__all__ = ["CONFIG", "run", "page"]
