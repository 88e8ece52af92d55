"""The readings of Section 6.2 that the paper leaves open, and how they move its results.

``dlor reproduce protocol``: ``experiment`` holds the config and ``run``; ``page`` renders the
result page from a run folder."""

from .experiment import CONFIG, run
from .page import page

__all__ = ["CONFIG", "run", "page"]
