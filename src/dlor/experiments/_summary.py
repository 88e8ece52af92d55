"""What an experiment returns (a ``Summary`` of ``Claim`` rows) and the checks every
config shares. Nothing here needs the ``experiments`` extra, so the registry loads without it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

# claim kind -> the function that writes its "measured" sentence from its numbers
WORDINGS: dict[str, Callable[..., str]] = {}


def wording(kind: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Register the function that writes the measured sentence of every claim of ``kind`` from
    its numbers: a claim's words (above or below, grows or shrinks, k of n) never come from
    anywhere but its values."""

    def register(fn: Callable[..., str]) -> Callable[..., str]:
        WORDINGS[kind] = fn
        return fn

    return register


BUDGETS = ("tiny", "quick", "paper")  # tiny: a smoke-test budget for the test suite


@dataclass
class Claim:
    """One statement of the paper beside what was measured here.

    ``measured`` is written from ``values`` by the wording registered for ``kind``
    (``Claim.stated``), so a test can write it again from the numbers and compare. ``id`` names
    the claim the same way at every budget and in every table ("EXPERIMENT.short-name"): the
    report matches a quick verdict with the published one by it. ``evidence`` counts what entered
    the verdict, one number per dimension ({"k values": 16, "seeds": 10}); a verdict that rests on
    one of anything is ``indicative``.
    """

    claim: str
    source: str  # the paper's figure, table or theorem
    measured: str
    verdict: str  # "confirmed" | "partially confirmed" | "not confirmed" | "not judged" | "not tested"
    id: str = ""
    evidence: dict[str, int] = field(default_factory=dict)
    kind: str = ""  # the wording that wrote ``measured`` from ``values`` (see ``stated``)
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def stated(cls, claim: str, source: str, kind: str, values: dict[str, Any], verdict: str, **rest: Any) -> Claim:
        """A claim whose measured sentence is written by the wording of ``kind`` from ``values``."""
        return cls(claim, source, WORDINGS[kind](**values), verdict, kind=kind, values=values, **rest)

    @property
    def indicative(self) -> bool:
        """Whether the verdict rests on a single size, cell, seed or budget (or on nothing counted)."""
        return bool(self.evidence) and min(self.evidence.values()) <= 1

    @property
    def evidence_note(self) -> str:
        return evidence_note(self.evidence)


@dataclass
class Summary:
    """What an experiment returns to the CLI and the report."""

    name: str
    title: str
    figures: list[str] = field(default_factory=list)  # paths relative to the output folder
    data: list[str] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    tables: dict[str, list[dict]] = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def evidence_note(evidence: dict[str, int]) -> str:
    """Evidence counts as a short note: "16 k values x 10 seeds"."""
    return " x ".join(f"{n} {what}" for what, n in evidence.items())


def check_budget(budget: str) -> str:
    if budget not in BUDGETS:
        from .._errors import DLoRError

        raise DLoRError(f"budget must be one of {BUDGETS}, got {budget!r}")
    return budget


def check_positive_ints(cfg, names: tuple[str, ...], each: bool = False) -> None:
    """Raise [`DLoRError`][dlor.DLoRError] unless every field ``names`` of ``cfg`` is an integer >= 1
    (``each``: a non-empty sequence of such integers), naming the first field that is not."""
    from .._errors import DLoRError

    def ok(v) -> bool:
        return not isinstance(v, bool) and isinstance(v, int) and v >= 1

    for name in names:
        value = getattr(cfg, name)
        good = (isinstance(value, (tuple, list)) and len(value) > 0 and all(ok(v) for v in value)) if each else ok(value)
        if not good:
            what = "a non-empty list of integers >= 1" if each else "an integer >= 1"
            raise DLoRError(f"{name} must be {what}, got {value!r}")


@wording("count")
def _count_words(count: int, total: int, what: str) -> str:
    """``5/5 rows equal the paper's counts exactly``."""
    return f"{count}/{total} {what}"


@wording("not-judged")
def _not_judged_words(why: str) -> str:
    return f"not judged: {why}"


@wording("not-tested")
def _not_tested_words(why: str) -> str:
    return f"not tested here: {why}"


def against_bound(value: float, bound: float, noun: str = "the bound") -> str:
    """``value`` against ``bound`` in words: "12.3x below the bound", "2.4x above the bound" or
    "zero, below the bound": the direction always follows the two numbers."""
    value, bound = float(value), float(bound)
    if value <= 0:
        return f"zero, below {noun}"
    if value <= bound:
        return f"{bound / value:.3g}x below {noun}"
    return f"{value / bound:.3g}x above {noun}"
