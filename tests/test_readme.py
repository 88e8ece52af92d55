"""Every Python example of the README and of the documentation's pages runs as written."""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs").glob("*/*.md"))]
BLOCKS = [
    (page.relative_to(ROOT), i, block)
    for page in PAGES
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S))
]


def test_the_readme_and_the_guides_have_examples():
    assert sum(1 for page, _, _ in BLOCKS if page.name == "README.md") >= 1
    assert len({page for page, _, _ in BLOCKS if page.parts[:2] == ("docs", "guide")}) >= 5


@pytest.mark.parametrize(("page", "index", "block"), BLOCKS, ids=[f"{p}[{i}]" for p, i, _ in BLOCKS])
def test_example_runs(page, index, block, tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)  # examples may write files
    try:
        exec(compile(block, f"{page}[python block {index}]", "exec"), {"__name__": "__readme__"})
    finally:
        os.chdir(cwd)
