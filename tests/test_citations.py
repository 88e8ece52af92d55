"""Citations of the paper: the table in ``dlor._paper`` against the paper's own numbering, and every
citation in the README, the docs and the docstrings against the table.

The paper's text (arXiv 2605.05659v1, CC BY 4.0, by Ying Chen, Aoxi Li, Jihun Kim and Javad Lavaei)
ships in ``tests/data`` so that the check runs on any clone.
"""

import importlib
import inspect
import re
from pathlib import Path

import pytest

from dlor import _paper
from dlor.experiments._registry import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
PAPER = (ROOT / "tests/data/dlor-paper-arxiv-2605.05659.txt").read_text()
KINDS = "Theorem|Definition|Lemma|Remark|Assumption|Section|Appendix|Figure"
CITATION = re.compile(rf"\b({KINDS})s? ((?:[0-9]+|[A-H])(?:\.[0-9]+)?)(?:\s*[-–]\s*([0-9]+))?")
PACKAGES = {name for name in _paper.CITATIONS if name.count(".") == 1 and importlib.util.find_spec(name) is not None}
PACKAGES = {name for name in PACKAGES if hasattr(importlib.import_module(name), "__path__")}
WORDS = {"dlor.DLoR"}  # names that are also words of the prose: matched by their dotted name only


def citations(text: str) -> list[str]:
    """Every citation in ``text``, a range ("Theorems 1-2") expanded."""
    out = []
    for kind, number, last in CITATION.findall(text):
        if last and number.isdigit():
            out += [f"{kind} {n}" for n in range(int(number), int(last) + 1)]
        else:
            out.append(f"{kind} {number}")
    return out


def names_on(line: str) -> set[str]:
    """The names of ``CITATIONS`` that ``line`` mentions: a package by its dotted name, a function or
    class by its own name, an experiment by a Markdown link ``[name](...)``."""
    found = set()
    for name in _paper.CITATIONS:
        if name in PACKAGES:
            if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", line):
                found.add(name)
        elif name in WORDS:
            if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", line):
                found.add(name)
        elif "." in name:
            if re.search(rf"(?<![\w]){re.escape(name.rsplit('.', 1)[-1])}(?![\w])", line):
                found.add(name)
        elif f"[{name}](" in line:
            found.add(name)
    return found


def allowed(names: set[str]) -> set[str]:
    out = set()
    for name in names:
        out |= set(_paper.CITATIONS[name])
    return out


def _covers(allowed_set: set[str], citation: str) -> bool:
    """``citation`` is allowed, or is a part of an allowed one ("Section 6.2" under "Section 6")."""
    return any(citation == a or citation.startswith(a + ".") or a.startswith(citation + ".") for a in allowed_set)


def _text_files():
    yield ROOT / "README.md"
    for path in sorted((ROOT / "docs").rglob("*.md")):
        if "runs" not in path.relative_to(ROOT / "docs").parts and path.name != "changelog.md":
            yield path
    yield from sorted(p for p in (ROOT / "src/dlor").rglob("*.py") if p.name != "_paper.py")  # the table itself


def test_the_table_holds_the_papers_own_numbering():
    headings = {
        f"{kind} {number}"
        for kind, number in re.findall(r"^(Theorem|Definition|Lemma|Remark|Assumption) ([0-9]+)\b", PAPER, flags=re.M)
    }
    assert headings == set(_paper.NUMBERED)
    for key, title in _paper.NUMBERED.items():
        if re.match(r"[A-Z]", title) and key.split()[0] in ("Theorem", "Definition", "Remark", "Lemma"):
            if title[0].isupper() and "(" not in title and "Kidger" not in title:
                assert f"{key} ({title}" in PAPER, f"the paper's {key} is not titled {title!r}"
    sections = set(re.findall(r"^([1-7](?:\.[1-3])?) [A-Z]", PAPER, flags=re.M))
    assert sections == set(_paper.SECTIONS)
    appendices = set(re.findall(r"^Appendix ([A-H]) ", PAPER, flags=re.M)) | set(
        re.findall(r"^([A-H]\.[1-4]) ", PAPER, flags=re.M)
    )
    assert appendices == set(_paper.APPENDICES)
    assert set(re.findall(r"^Figure ([0-9]+):", PAPER, flags=re.M)) == set(_paper.FIGURES)


def test_the_multiplicative_and_uat_theorems_are_where_the_paper_puts_them():
    assert "Theorem 4 (Multiplicative Depth Extension)" in PAPER
    assert "Theorem 5 (Deep DLoR UAT)" in PAPER
    assert "Theorem 3 (Additive Width Expansion)" in PAPER


def test_every_cited_number_of_the_table_exists():
    for name, cited in _paper.CITATIONS.items():
        for c in cited:
            assert _paper.known(c), f"{name} cites {c}, which the paper does not have"
    assert set(REGISTRY) <= set(_paper.CITATIONS), "every experiment has its row"


def test_every_citation_in_the_readme_docs_and_docstrings_agrees_with_the_table():
    wrong = []
    for path in _text_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            cited = citations(line)
            if not cited:
                continue
            where = f"{path.relative_to(ROOT)}:{number}"
            for c in cited:
                if not _paper.known(c):
                    wrong.append(f"{where}: {c} is not a number of the paper")
            names = names_on(line)
            if names:
                ok = allowed(names)
                for c in cited:
                    if c.split()[0] in ("Theorem", "Definition", "Lemma", "Remark") and not _covers(ok, c):
                        wrong.append(f"{where}: {c} beside {', '.join(sorted(names))}, which cite {', '.join(sorted(ok))}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", [n for n in _paper.CITATIONS if n.startswith("dlor.") and n not in PACKAGES])
def test_each_public_docstring_cites_only_its_own_statements(name):
    module, _, attr = name.rpartition(".")
    obj = getattr(importlib.import_module(module), attr)
    doc = inspect.getdoc(obj) or ""
    strays = [c for c in citations(doc) if c.split()[0] in ("Theorem", "Definition", "Lemma", "Remark")]
    strays = [c for c in strays if not _covers(set(_paper.CITATIONS[name]), c)]
    assert not strays, f"{name}'s docstring cites {strays}; the table gives {_paper.CITATIONS[name]}"


def test_each_claim_cites_what_its_experiment_reproduces():
    import json

    for name in REGISTRY:
        summary = ROOT / "docs/runs/paper" / name / "summary.json"
        if not summary.exists():
            continue
        for claim in json.loads(summary.read_text())["claims"]:
            for c in citations(claim["source"]):
                assert _paper.known(c), f"{name}: {claim['claim']!r} cites {c}"
                if c.split()[0] in ("Theorem", "Definition", "Lemma", "Remark"):
                    assert _covers(set(_paper.CITATIONS[name]), c), f"{name}: {claim['claim']!r} cites {c}"
