"""The page of ``dlor reproduce finetune``: the text is the experiment module's docstring; every
number, table and figure comes from the run folder."""

from __future__ import annotations

from pathlib import Path

from .._page import standard_page
from . import experiment


def page(folder: Path, out: Path) -> str:
    """The page of the run in ``folder`` (``RUN_DIR/finetune``), to be written at ``out``."""
    return standard_page("finetune", experiment.__doc__, folder, out)
