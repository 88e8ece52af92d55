"""Open the built documentation site in headless Chromium: its pages render, and no code block or
table is wider than its column.

Usage: python scripts/check_docs_in_browser.py [SITE_DIR] [--screenshots DIR]   (after `mkdocs build`;
`make docs` runs it)
It loads the index page, the API page of ``dlor.nn`` and one experiment page at a 1280 x 900 window,
looks in the rendered DOM for their headings, measures every ``pre > code`` and ``table`` of the
content column (an element whose content is wider than its box hides text behind a scrollbar, and
one whose box is wider than the column hides it past the edge) and takes a screenshot of each page
(``SITE_DIR/screenshots/`` unless ``--screenshots`` says otherwise). Exit status 0 when every page
passes, 1 otherwise, 2 when no Chromium is installed (Debian: apt-get install chromium), which
`make docs` reports and skips.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from check_report_in_browser import chromium

PAGES = {"index.html": "dlor", "reference/nn/index.html": "dlor.nn", "experiments/fig5/index.html": "Figure 5"}
WINDOW = "1280,900"
MARKER = "dlor-layout-check"
# measured in the page once it has loaded: each element that hides text, with its widths
PROBE = f"""<script>
window.addEventListener('load', () => {{
  const column = document.querySelector('.md-content__inner') || document.body;
  const edge = column.getBoundingClientRect();
  const bad = [];
  column.querySelectorAll('pre > code, table').forEach((el, i) => {{
    const box = el.getBoundingClientRect();
    const hidden = el.scrollWidth > el.clientWidth + 1;
    const past = box.right > edge.right + 1;
    if (hidden || past) {{
      const text = el.textContent.trim().slice(0, 60).replace(/\\s+/g, ' ');
      bad.push(`${{el.tagName.toLowerCase()}} "${{text}}": content ${{el.scrollWidth}} px in a box of ${{el.clientWidth}} px, ` +
               `box right edge ${{Math.round(box.right)}} px, column right edge ${{Math.round(edge.right)}} px`);
    }}
  }});
  const out = document.createElement('pre');
  out.id = '{MARKER}';
  out.textContent = JSON.stringify(bad);
  document.body.appendChild(out);
}});
</script>"""


def _run(flags: list[str], page: Path) -> str:
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
    base = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size={WINDOW}"]
    return subprocess.run(
        [*base, "--virtual-time-budget=5000", *flags, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def inspect(page: Path, screenshot: Path | None = None) -> tuple[list[str], list[str]]:
    """``(headings, overflowing elements)`` of ``page`` as headless Chromium lays it out."""
    probe = page.with_name(page.stem + ".layout-check.html")  # beside it, so relative assets load
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>", 1))
    try:
        dom = _run(["--dump-dom"], probe)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            _run([f"--screenshot={screenshot.resolve()}"], page)
    finally:
        probe.unlink()
    heads = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h1[^>]*>(.*?)</h1>", dom, flags=re.S)]
    found = re.search(rf'<pre id="{MARKER}">(.*?)</pre>', dom, flags=re.S)
    if found is None:
        return heads, ["the layout probe did not run"]
    text = found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    return heads, json.loads(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, default=Path("site"))
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args()
    shots = args.screenshots or args.site / "screenshots"
    bad = []
    for rel, expected in PAGES.items():
        try:
            found, overflowing = inspect(args.site / rel, shots / (rel.replace("/", "_").removesuffix(".html") + ".png"))
        except FileNotFoundError as err:
            print(f"note: {err}; the browser check is skipped", file=sys.stderr)
            return 2
        if not any(expected in h for h in found):
            bad.append(f"{rel}: no heading with {expected!r} (found {found})")
        bad += [f"{rel}: {o}" for o in overflowing]
        if not overflowing and any(expected in h for h in found):
            print(f"{rel}: {next(h for h in found if expected in h)!r}, nothing wider than its column")
    if bad:
        print("\n".join(bad), file=sys.stderr)
        return 1
    print(f"screenshots in {shots}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
