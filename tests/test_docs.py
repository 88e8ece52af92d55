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
import pages  # noqa: E402

# tracker numbers and notes on how the work was done, which users should not read
PROCESS_WORDS = re.compile(r"\bissues?\s*#?\d+|\bissue's\b|\bsession\b|\bthis stop\b", re.I)


def test_the_verdict_tables_agree_with_the_run_folders():
    for page in pages.TABLE_PAGES:
        text = (ROOT / page).read_text()
        assert pages.render(page, text) == text, f"{page} is out of date: run make results-docs"


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


@pytest.mark.parametrize("name", pages.published())
def test_each_experiment_page_agrees_with_its_run_folder(name):
    page = pages.PAGES_DIR / f"{name}.md"
    assert pages.experiment_page(name, page) == page.read_text(), (
        f"{page} disagrees with its run folder: regenerate it with make results-docs"
    )


def test_the_verdict_tables_list_every_registered_experiment():
    assert set(pages.TABLE_ORDER) == set(pages.REGISTRY)


def test_the_rendering_check_finds_roles_and_source_lines():
    role = "<p>The factors come from :func:`~dlor.multiplicative_decompose` of W.</p>"
    attribute = (
        '<div class="doc doc-object doc-attribute"><h3 id="dlor.nn.DLoRChain.factors">factors</h3>'
        '<div class="doc-signature highlight"><pre><code><span>factors</span> <span>=</span> nn.ModuleList()</code></pre></div>'
    )
    documented = (
        '<div class="doc doc-object doc-attribute"><h3 id="dlor.nn.X.rank">rank</h3>'
        '<div class="doc doc-contents"><p>The bound on the rank.</p></div>'
    )
    assert check_reference.unrendered(role) == ["an unrendered role ':func:`~dlor.multiplicative_decompose`'"]
    assert check_reference.unrendered(attribute) == [
        "the attribute dlor.nn.DLoRChain.factors shown as its source line 'factors = nn.ModuleList()'"
    ]
    assert check_reference.unrendered(documented) == []


def test_the_published_verdicts_agree_with_the_run_folders():
    assert pages.PUBLISHED.read_text() == pages.published_verdicts(), "run make results-docs"


def test_a_published_claim_without_an_id_or_with_a_shared_id_is_refused():
    from dlor.experiments._published import entries

    claim = {"claim": "c", "verdict": "confirmed", "measured": "m"}
    with pytest.raises(ValueError, match="has no id"):
        entries({"fig5": {"claims": [claim]}})
    with pytest.raises(ValueError, match="used twice"):
        entries({"fig5": {"claims": [claim | {"id": "x"}]}, "uat": {"claims": [claim | {"id": "x"}]}})
