"""The page of ``dlor reproduce training``: the text is the experiment module's docstring; every
number, table and figure comes from the run folder."""

from __future__ import annotations

from pathlib import Path

from .._page import EarlierReading, standard_page
from . import experiment


def page(folder: Path, out: Path, earlier: EarlierReading | None = None) -> str:
    """The page of the run in ``folder`` (``RUN_DIR/training``), to be written at ``out``; ``earlier`` is a
    superseded reading shown in a section of its own."""
    return standard_page("training", experiment.__doc__, folder, out, earlier)
