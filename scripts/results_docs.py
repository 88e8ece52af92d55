"""Write the table of current verdicts into README.md and docs/experiments/index.md.

Usage: python scripts/results_docs.py [--check]
Every row comes from the canonical run of its experiment (``CANONICAL``): the ``summary.json``
that ``dlor reproduce --budget paper --out docs/runs/paper`` writes under the default reading.
``--check`` writes nothing and exits 1 when a page differs from what its run folders give.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- verdicts:start -->", "<!-- verdicts:end -->"
# experiment -> (its canonical run, the page that explains it); a report.md is read for its claims rows
CANONICAL = {
    name: (f"docs/runs/paper/{name}/summary.json", f"experiments/{name}.md")
    for name in ("training", "uat", "fig5", "spectral", "realdata", "protocol", "expressivity", "lm")
}
PAGES = ("README.md", "docs/experiments/index.md")


def _claims(path: Path) -> list[dict]:
    return json.loads(path.read_text())["claims"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(link_prefix: str) -> str:
    lines = ["| experiment | claim | paper | verdict |", "|---|---|---|---|"]
    for name, (run, page) in CANONICAL.items():
        path = ROOT / run
        if not path.exists():
            lines.append(f"| {name} | no published run (`{run}` is missing) | | |")
            continue
        for c in _claims(path):
            lines.append(f"| [{name}]({link_prefix}{page}) | {_cell(c['claim'])} | {_cell(c['source'])} | **{c['verdict']}** |")
    return "\n".join(lines)


def render(page: str, text: str) -> str:
    prefix = "docs/" if page == "README.md" else "../"
    if START not in text or END not in text:
        raise SystemExit(f"{page}: no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table(prefix)}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a page disagrees with its run folders")
    args = parser.parse_args()
    stale = []
    for page in PAGES:
        path = ROOT / page
        text = path.read_text()
        new = render(page, text)
        if new != text:
            stale.append(page)
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run python scripts/results_docs.py", file=sys.stderr)
        return 1
    print("up to date" if not stale else f"wrote {', '.join(stale)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
