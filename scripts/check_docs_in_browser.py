"""Open the built documentation site in headless Chromium and check that its pages render.

Usage: python scripts/check_docs_in_browser.py [SITE_DIR]   (after `mkdocs build`; `make docs` runs it)
It loads the index page and the API page of ``dlor.nn`` and looks in the rendered DOM for their
headings. Exit status 0 when both are there, 1 otherwise, 2 when no Chromium is installed
(Debian: apt-get install chromium), which `make docs` reports and skips.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from check_report_in_browser import chromium

PAGES = {"index.html": "dlor", "reference/nn/index.html": "dlor.nn"}


def headings(page: Path) -> list[str]:
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--dump-dom"]
    dom = subprocess.run([*flags, page.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    return [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h1[^>]*>(.*?)</h1>", dom, flags=re.S)]


def main() -> int:
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    bad = []
    for rel, expected in PAGES.items():
        try:
            found = headings(site / rel)
        except FileNotFoundError as err:
            print(f"note: {err}; the browser check is skipped", file=sys.stderr)
            return 2
        if not any(expected in h for h in found):
            bad.append(f"{rel}: no heading with {expected!r} (found {found})")
        else:
            print(f"{rel}: {next(h for h in found if expected in h)!r}")
    if bad:
        print("\n".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
