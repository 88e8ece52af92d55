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
