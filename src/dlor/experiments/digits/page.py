"""The page of ``dlor reproduce realdata``: the text is the experiment module's docstring; every
number, table and figure comes from the run folder."""

from __future__ import annotations

from pathlib import Path

from .._page import EarlierReading, standard_page
from . import experiment


def page(folder: Path, out: Path, earlier: EarlierReading | None = None) -> str:
    """The page of the run in ``folder`` (``RUN_DIR/realdata``), to be written at ``out``, with the
    shared-rate reading ``earlier`` beside it when given."""
    return standard_page("realdata", experiment.__doc__, folder, out, earlier)
