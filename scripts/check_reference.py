"""Check that the built site's API reference documents every public name of dlor.

Usage: python scripts/check_reference.py [SITE_DIR]   (after `mkdocs build`; `make docs` runs it)
A public name is one in the ``__all__`` of ``dlor`` or of a public subpackage; it must have an
anchor (``id="dlor.nn.DLoRLinear"``) on the subpackage's reference page. Exit 1 names the missing ones.
"""

from __future__ import annotations

import importlib
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
}


def missing(site: Path) -> list[str]:
    out = []
    for package, page in PACKAGES.items():
        html = (site / page).read_text() if (site / page).exists() else ""
        for name in importlib.import_module(package).__all__:
            if f'id="{package}.{name}"' not in html:
                out.append(f"{package}.{name}")
    return out


def main() -> int:
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    gone = missing(site)
    if gone:
        print(f"not in the API reference: {', '.join(gone)}", file=sys.stderr)
        return 1
    print(f"the API reference documents all public names of {len(PACKAGES)} packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
