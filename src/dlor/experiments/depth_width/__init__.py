"""Appendix D: depth against width in the DLoR family, at matched parameters.

``dlor reproduce expressivity``: ``experiment`` holds the config and ``run``; ``page`` renders the
result page from a run folder."""

from .experiment import CONFIG, run
from .page import page

__all__ = ["CONFIG", "run", "page"]
