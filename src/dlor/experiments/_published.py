"""The published verdicts: every claim of the canonical paper-budget runs (``docs/runs/paper``), by
claim id, as shipped with the package in ``published_verdicts.json``.

``scripts/pages.py`` (``make results-docs``) writes that file from the canonical ``summary.json``
files, beside the pages and the verdict tables that the same runs give; ``--check`` fails when it is
out of date. The report reads it to show each verdict of a run beside the published one, so a
quick-budget verdict is never read without the one that stands.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from ._summary import evidence_note

FILE = "published_verdicts.json"
PAGE_URL = "https://github.com/dlor/dlor/blob/main/docs/experiments/{experiment}.md"


@dataclass(frozen=True)
class Published:
    """One claim's verdict in a canonical paper-budget run."""

    id: str
    experiment: str
    claim: str
    verdict: str
    measured: str
    evidence: dict[str, int] = field(default_factory=dict)

    @property
    def page(self) -> str:
        """The experiment's results page, where the verdict is explained."""
        return PAGE_URL.format(experiment=self.experiment)

    @property
    def evidence_note(self) -> str:
        return evidence_note(self.evidence)


def entries(summaries: dict[str, dict]) -> list[dict]:
    """The rows of ``published_verdicts.json`` from canonical summaries (experiment -> summary.json data).

    Raises ``ValueError`` when a claim has no id or two claims share one.
    """
    rows: list[dict] = []
    seen: dict[str, str] = {}
    for experiment, data in summaries.items():
        for c in data["claims"]:
            cid = c.get("id")
            if not cid:
                raise ValueError(f"{experiment}: the claim {c['claim']!r} has no id")
            if cid in seen:
                raise ValueError(f"the claim id {cid!r} is used twice ({seen[cid]} and {experiment})")
            seen[cid] = experiment
            rows.append(
                {
                    "id": cid,
                    "experiment": experiment,
                    "claim": c["claim"],
                    "verdict": c["verdict"],
                    "measured": c["measured"],
                    "evidence": c.get("evidence", {}),
                }
            )
    return rows


@cache
def published() -> dict[str, Published]:
    """Every published verdict by claim id (empty when the package ships none)."""
    try:
        text = resources.files("dlor.experiments").joinpath(FILE).read_text()
    except FileNotFoundError:
        return {}
    return {row["id"]: Published(**row) for row in json.loads(text)["claims"]}
