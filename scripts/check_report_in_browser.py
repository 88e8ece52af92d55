"""Open a reproduction report in headless Chromium, screenshot it, and check that no image is broken
and that every claim row shows its published verdict beside the run's.

Usage: python scripts/check_report_in_browser.py RESULTS_DIR [--screenshot FILE]
Exit status 0 when every <img> of report.html decoded in the browser, 1 otherwise, 2 when no
Chromium is installed (Debian: apt-get install chromium).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def check(results: Path, screenshot: Path | None = None) -> tuple[int, int]:
    """``(decoded, total)`` images of ``results/report.html`` as seen by headless Chromium."""
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
    url = (results / "report.html").resolve().as_uri()
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000"]
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    if screenshot is not None:
        subprocess.run(
            [*flags, "--window-size=1200,4000", f"--screenshot={screenshot.resolve()}", url],
            capture_output=True,
            timeout=120,
            check=True,
        )
    rows = len(re.findall(r"<tr data-claim=", dom))
    published = len(re.findall(r'<td class="(?:agrees|differs|unpublished)"', dom))
    if "published verdict (paper budget)" not in dom or rows == 0 or published != rows:
        raise RuntimeError(f"the claims table shows a published verdict in {published} of {rows} rows")
    m = re.search(r'data-images="(\d+)/(\d+)"', dom)
    if not m:
        raise RuntimeError("the page did not report its images (did its script run?)")
    return int(m.group(1)), int(m.group(2))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("results", type=Path)
    parser.add_argument("--screenshot", type=Path, default=None)
    args = parser.parse_args()
    try:
        ok, total = check(args.results, args.screenshot)
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"{ok}/{total} images decoded in Chromium")
    return 0 if ok == total and total > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
