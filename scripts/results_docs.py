"""Write the table of current verdicts into README.md and docs/experiments/index.md.

Usage: python scripts/results_docs.py [--check]
Every row comes from the canonical run of its experiment (``CANONICAL``): a ``summary.json``
written by ``dlor reproduce``, or, for the experiments whose only published run is the full
paper-budget report, that report's claims table. ``--check`` writes nothing and exits 1 when a
page differs from what its run folders give (the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- verdicts:start -->", "<!-- verdicts:end -->"
# experiment -> (its canonical run, the page that explains it); a report.md is read for its claims rows
CANONICAL = {
    "training": ("docs/paper-run/default-bs32-interleaved-run3/summary.json", "experiments/index.md"),
    "uat": ("docs/paper-run/report.md", "experiments/index.md"),
    "fig5": ("docs/paper-run/report.md", "experiments/index.md"),
    "spectral": ("docs/paper-run/report.md", "experiments/index.md"),
    "protocol": ("docs/paper-run/protocol/summary.json", "experiments/index.md"),
    "expressivity": ("docs/expressivity-run/paper/expressivity/summary.json", "expressivity.md"),
    "lm": ("docs/lm-run/paper/lm/summary.json", "lm.md"),
}
PAGES = ("README.md", "docs/experiments/index.md")


def _claims(name: str, path: Path) -> list[dict]:
    if path.suffix == ".json":
        return json.loads(path.read_text())["claims"]
    rows = []
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) == 5 and cells[0] == name:
            rows.append({"claim": cells[1], "source": cells[2], "measured": cells[3], "verdict": cells[4].strip("*")})
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(link_prefix: str) -> str:
    lines = ["| experiment | claim | paper | verdict |", "|---|---|---|---|"]
    for name, (run, page) in CANONICAL.items():
        path = ROOT / run
        if not path.exists():
            lines.append(f"| {name} | no published run (`{run}` is missing) | | |")
            continue
        for c in _claims(name, path):
            source = re.sub(r"issue \d+ \(beyond the paper\)", "beyond the paper", c["source"])
            lines.append(f"| [{name}]({link_prefix}{page}) | {_cell(c['claim'])} | {_cell(source)} | **{c['verdict']}** |")
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
