"""One registry of the experiments: what each one reproduces, and how the CLI runs it.

Every experiment is an ``Experiment``: a name, the paper artefacts it makes, its config
dataclass (with ``paper()``, ``quick()`` and ``tiny()`` constructors) and ``run(cfg, out, ctx)``.
The command line builds the config of the chosen budget, applies its options with
``dataclasses.replace`` (so the config validates once, in ``__post_init__``) and calls ``run``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from .._errors import DLoRError
from ._context import RunContext
from ._summary import BUDGETS, Summary

__all__ = ["RunContext", "Experiment", "REGISTRY", "experiment", "config_for", "describe", "parse_setting"]


@dataclass(frozen=True)
class Experiment:
    """One experiment: ``module`` (under ``dlor.experiments``) defines ``CONFIG`` (a frozen dataclass
    with ``paper()``, ``quick()`` and ``tiny()`` constructors, whose ``__post_init__`` validates it)
    and ``run(cfg, out, ctx) -> Summary``."""

    name: str
    artefacts: tuple[str, ...]
    module: str
    shares_groups: bool = False  # under torchrun every rank trains its share (else rank 0 alone runs it)

    def load(self):
        return import_module(f"dlor.experiments.{self.module}")


REGISTRY: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment("training", ("table1", "fig4", "fig6"), "section6_training", shares_groups=True),
        Experiment("uat", ("fig2", "fig3"), "section6_uat"),
        Experiment("fig5", ("fig5",), "orthogonal_blindness"),
        Experiment("spectral", ("fig2c", "fig3c"), "spectra"),
        Experiment("realdata", ("appendix-g-digits",), "digits"),
        Experiment("protocol", ("section-6.2-readings",), "section6_readings", shares_groups=True),
        Experiment("lm", ("appendix-g-lm",), "pretraining"),
        Experiment("expressivity", ("appendix-d",), "depth_width"),
        Experiment("finetune", ("appendix-g-finetune",), "finetune"),
    )
}


def experiment(name: str) -> Experiment:
    """The registered experiment ``name``, or the one that makes the artefact ``name`` (e.g. "fig4")."""
    if name in REGISTRY:
        return REGISTRY[name]
    for e in REGISTRY.values():
        if name in e.artefacts:
            return e
    raise DLoRError(f"unknown experiment {name!r}; the registry holds: {describe_short()}")


def describe_short() -> str:
    return "; ".join(f"{e.name} ({', '.join(e.artefacts)})" for e in REGISTRY.values())


def config_for(exp: Experiment, budget: str, **overrides: Any):
    """The config of ``exp`` at ``budget`` with ``overrides`` applied by ``dataclasses.replace``.

    An override that names no field of the config raises [`DLoRError`][dlor.DLoRError] naming the fields.
    """
    if budget not in BUDGETS:
        raise DLoRError(f"budget must be one of {BUDGETS}, got {budget!r}")
    cls = exp.load().CONFIG
    cfg = getattr(cls, budget)()
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise DLoRError(f"{exp.name} has no setting {', '.join(unknown)}; its settings are {sorted(fields)}")
    paper = cls.paper()
    for name, value in overrides.items():
        check_override(exp.name, name, value, getattr(paper, name))
    return dataclasses.replace(cfg, **overrides) if overrides else cfg


MAX_SCALE = 100  # an integer setting at most this many times its paper-budget value


def check_override(experiment: str, name: str, value: Any, paper: Any) -> None:
    """The checks every config's overrides pass before its own ``__post_init__``: numbers are
    finite, learning rates positive, and an integer (a size, a count of seeds or steps) at most
    ``MAX_SCALE`` times its paper-budget value, which keeps a typo from asking for a run that
    fills the memory or never ends. Raises [`DLoRError`][dlor.DLoRError] naming the setting."""
    values = value if isinstance(value, (tuple, list)) else (value,)
    papers = paper if isinstance(paper, (tuple, list)) else (paper,)
    rate = name == "lr" or name.endswith("_lr") or name in ("rates", "lrs") or name.endswith("_rates")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if not math.isfinite(v):
            raise DLoRError(f"{experiment}: {name} must be a finite number, got {v}")
        if rate and not v > 0:
            raise DLoRError(f"{experiment}: {name} is a learning rate and must be > 0, got {v:g}")
        ints = [p for p in papers if isinstance(p, int) and not isinstance(p, bool) and p > 0]
        if isinstance(v, int) and ints and v > MAX_SCALE * max(ints):
            raise DLoRError(
                f"{experiment}: {name} = {v} is more than {MAX_SCALE} times the paper budget's {max(ints)}; "
                "a run that size would not fit this machine's memory or time"
            )


def run_experiment(
    exp: Experiment, budget: str, out: Path, ctx: RunContext, seeds: int | None = None, options: dict[str, Any] | None = None
) -> Summary:
    """Run ``exp`` at ``budget`` into ``out``. ``seeds`` and ``options`` (e.g. ``{"batch_size": 32}``)
    apply where the experiment has them; the others are ignored, as one command runs many experiments."""
    options = dict(options or {})
    mod = exp.load()
    fields = {f.name for f in dataclasses.fields(mod.CONFIG)}
    overrides = {k: v for k, v in options.items() if k in fields}
    if seeds is not None and "seeds" in fields:
        overrides["seeds"] = seeds
    return mod.run(config_for(exp, budget, **overrides), out, ctx)


def describe() -> list[dict[str, str]]:
    """One row per experiment: its name, artefacts and budgets (for ``dlor reproduce --list``)."""
    return [{"name": e.name, "artefacts": ", ".join(e.artefacts), "budgets": ", ".join(BUDGETS)} for e in REGISTRY.values()]


def parse_setting(exp: Experiment, text: str) -> tuple[str, Any]:
    """``"field=value"`` (``dlor reproduce --set``) as ``(field, value)``, the value read as the type
    of the field's value in the paper config: a number, ``true``/``false``, ``none``, a word, or a
    comma-separated list for a tuple field (``rates=3e-4,1e-3,3e-3``).

    Raises:
        DLoRError: no ``=``, a field the config does not have, or a value that is not of its type.
    """
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    cls = exp.load().CONFIG
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if not sep or not name:
        raise DLoRError(f"--set {text!r}: write FIELD=VALUE, e.g. --set factor_init=zero_u")
    if name not in fields or name == "budget":
        raise DLoRError(f"{exp.name} has no setting {name!r}; its settings are {sorted(set(fields) - {'budget'})}")
    current = getattr(cls.paper(), name)

    def scalar(word: str, like: Any) -> Any:
        low = word.lower()
        if low in ("none", "null"):
            return None
        if isinstance(like, bool) or low in ("true", "false"):
            if low not in ("true", "false"):
                raise DLoRError(f"--set {name}: {word!r} is not true or false")
            return low == "true"
        if isinstance(like, (int, float)) or like is None:
            try:
                number = float(word)
            except ValueError:
                if like is None:
                    return word
                raise DLoRError(f"--set {name}: {word!r} is not a number") from None
            return int(number) if isinstance(like, int) and number.is_integer() else number
        return word

    if isinstance(current, tuple):
        like = current[0] if current else None
        return name, tuple(scalar(w.strip(), like) for w in value.split(",") if w.strip())
    return name, scalar(value, current)
