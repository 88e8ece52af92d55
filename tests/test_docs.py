"""The documentation: generated pages agree with their run folders, the API reference covers the
public names, and nothing a user reads carries development-process words."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import check_reference  # noqa: E402
import experiment_page  # noqa: E402
import results_docs  # noqa: E402

# tracker numbers and notes on how the work was done, which users should not read
PROCESS_WORDS = re.compile(r"\bissues?\s*#?\d+|\bissue's\b|\bsession\b|\bthis stop\b", re.I)


def test_the_verdict_tables_agree_with_the_run_folders():
    for page in results_docs.PAGES:
        text = (ROOT / page).read_text()
        assert results_docs.render(page, text) == text, f"{page} is out of date: run python scripts/results_docs.py"


def test_every_public_package_has_a_reference_page():
    nav = (ROOT / "mkdocs.yml").read_text()
    for package, html in check_reference.PACKAGES.items():
        page = ROOT / "docs" / html.replace("/index.html", ".md").replace("reference.md", "reference/index.md")
        assert page.exists() and f"::: {package}" in page.read_text(), package
        assert page.relative_to(ROOT / "docs").as_posix() in nav, package
        assert importlib.import_module(package).__all__


def _tracked_text_files():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        path = ROOT / name
        if path.suffix in (".png", ".pt", ".safetensors", ".npy") or name == "CHANGELOG.md" or not path.is_file():
            continue
        try:
            yield name, path.read_text()
        except UnicodeDecodeError:
            continue


def test_no_development_process_words_where_users_read():
    hits = [
        f"{name}:{text[: m.start()].count(chr(10)) + 1}: {m.group(0)}"
        for name, text in _tracked_text_files()
        if name != "tests/test_docs.py"
        for m in PROCESS_WORDS.finditer(text)
    ]
    assert not hits, "\n".join(hits[:20])


@pytest.mark.parametrize(
    ("script", "run", "page"),
    [
        ("lm_page", "docs/runs/paper", "docs/experiments/lm.md"),
        ("expressivity_page", "docs/runs/paper", "docs/experiments/expressivity.md"),
    ],
)
def test_each_experiment_page_agrees_with_its_run_folder(script, run, page):
    module = importlib.import_module(script)
    text = (ROOT / page).read_text()
    machine = r"(?: on the project's 2-core machine|; the project's 2-core machine)"
    wall = re.search(r"a run at the \*\*\w+\*\* budget \(([^;)]*?)" + machine, text)
    args = (ROOT / run, ROOT / page, wall.group(1) if wall else None)
    if script == "lm_page":
        args += (ROOT / "docs/runs/lm-shared-rate",)
    assert module.render(*args) == text, f"{page} disagrees with {run}: regenerate it with scripts/{script}.py"


@pytest.mark.parametrize("name", experiment_page.PAGES)
def test_each_section6_page_agrees_with_its_run_folder(name):
    page = ROOT / "docs/experiments" / f"{name}.md"
    assert experiment_page.render(name, experiment_page.RUNS, page) == page.read_text(), (
        f"{page} disagrees with its run folder: regenerate it with scripts/experiment_page.py {name}"
    )
