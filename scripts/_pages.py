"""Markdown helpers shared by the scripts that generate the documentation's result pages."""

from __future__ import annotations


def table(rows: list[dict], columns: list[tuple[str, str]]) -> list[str]:
    """A Markdown table of ``rows``: ``columns`` are ``(key, title)`` pairs."""
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(key, "")) for key, _ in columns) + " |")
    return lines


def g(value, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits, or as it is when it is not a number."""
    try:
        return f"{float(value):.{digits}g}"
    except (TypeError, ValueError):
        return str(value)


def page_parser(description: str, default_out: str):
    """The command line every page script shares: ``RUN_DIR [--out PAGE] [--wall-clock TEXT]``."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, default=Path(default_out))
    parser.add_argument("--wall-clock", default=None, help="the run's wall-clock time, as measured with `time`")
    return parser


def budget_note(cfg: dict) -> list[str]:
    """The closing line of a page whose run shrank the paper budget (none otherwise)."""
    return [f"This budget shrinks the paper budget: {cfg['shrunk']}.", ""] if cfg.get("shrunk") else []
