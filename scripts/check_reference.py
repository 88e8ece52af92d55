"""Check that the built site's API reference documents every public name of dlor, and that every
page shows rendered text.

Usage: python scripts/check_reference.py [SITE_DIR]   (after `mkdocs build`; `make docs` runs it)
A public name is one in the ``__all__`` of ``dlor`` or of a public subpackage; it must have an
anchor (``id="dlor.nn.DLoRLinear"``) on the subpackage's reference page. No page may show the text
of a cross-reference the generator did not render (a Sphinx role such as ``:func:`x` ``) or an
attribute shown as its source line (``factors = nn.ModuleList()``). Exit 1 names what is wrong.
"""

from __future__ import annotations

import html
import importlib
import re
import sys
from pathlib import Path

PACKAGES = {
    "dlor": "reference/index.html",
    "dlor.decompose": "reference/decompose/index.html",
    "dlor.nn": "reference/nn/index.html",
    "dlor.construct": "reference/construct/index.html",
    "dlor.rank1": "reference/rank1/index.html",
    "dlor.train": "reference/train/index.html",
    "dlor.expressivity": "reference/expressivity/index.html",
    "dlor.lm": "reference/lm/index.html",
    "dlor.peft": "reference/peft/index.html",
}


def missing(site: Path) -> list[str]:
    out = []
    for package, page in PACKAGES.items():
        html = (site / page).read_text() if (site / page).exists() else ""
        for name in importlib.import_module(package).__all__:
            if f'id="{package}.{name}"' not in html:
                out.append(f"{package}.{name}")
    return out


ROLE = re.compile(r":(?:func|class|meth|attr|mod|data|exc|obj|py:\w+):`[^`<]*`?")
ATTRIBUTE = '<div class="doc doc-object doc-attribute">'
SIGNATURE = re.compile(r'<div class="doc-signature[^"]*">(.*?)</div>', re.S)
ANCHOR = re.compile(r'<h\d id="([^"]+)"')


def unrendered(page_html: str) -> list[str]:
    """What one page shows unrendered: role texts, and attributes whose entry is an assignment."""
    out = [f"an unrendered role {html.unescape(m.group(0))!r}" for m in ROLE.finditer(page_html)]
    for chunk in page_html.split(ATTRIBUTE)[1:]:
        chunk = chunk.split('<div class="doc doc-object', 1)[0]
        signature = SIGNATURE.search(chunk)
        text = html.unescape(re.sub(r"<[^>]+>", "", signature.group(1))).strip() if signature else ""
        if "=" in text:
            anchor = ANCHOR.search(chunk)
            out.append(f"the attribute {anchor.group(1) if anchor else '?'} shown as its source line {text!r}")
    return out


def rendering_faults(site: Path) -> list[str]:
    return [
        f"{page.relative_to(site)}: {fault}" for page in sorted(site.rglob("*.html")) for fault in unrendered(page.read_text())
    ]


def main() -> int:
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    gone = missing(site)
    if gone:
        print(f"not in the API reference: {', '.join(gone)}", file=sys.stderr)
        return 1
    faults = rendering_faults(site)
    if faults:
        print("\n".join(faults[:50]), file=sys.stderr)
        return 1
    print(f"the API reference documents all public names of {len(PACKAGES)} packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
