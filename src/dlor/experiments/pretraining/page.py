"""The page of ``dlor reproduce lm``, rendered from its run folder: every number comes from
``summary.json`` and the CSVs beside it."""

from __future__ import annotations

import csv
from pathlib import Path

from .._page import GENERATOR, budget_note, g, read_summary, rel, table, wall_clock


def _g(value, digits: int = 4) -> str:
    return g(value, digits)


def _rows(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _largest_effect(effects: list[dict]) -> str:
    e = max(effects, key=lambda e: abs(float(e["effect_b_minus_a"])))
    return (
        f"The choice that moves the difference most is `{e['factor']}`: from {e['choice_a']} to {e['choice_b']} it "
        f"changes low-rank minus DLoR by {float(e['effect_b_minus_a']):+.4f} nats/byte on average."
    )


def _loss(row: dict) -> str:
    """A row's validation loss as ``median (q25-q75)``."""
    return f"{_g(row['val_nats_median'])} ({_g(row['val_nats_q25'])}-{_g(row['val_nats_q75'])})"


def _best(row: dict) -> str:
    """A row's best rate, marked when it sits on an edge of its grid."""
    return _g(row["best_rate"], 3) + (" (edge)" if row["rate_on_edge"] == "True" else "")


def _crossing_lines(cfg: dict) -> list[str]:
    from .claims import crossing_words

    crossing = cfg.get("crossing")
    if not crossing:
        return []
    words = crossing_words(crossing).removeprefix("; ")
    return [f"Where DLoR's advantage over low-rank would reach zero: {words}.", ""]


def _mechanism_lines(folder: Path, cfg: dict) -> list[str]:
    path = folder / "lm_mechanism.csv"
    if not path.exists():
        return []
    rows = _rows(path)
    return [
        "## What the gain is made of",
        "",
        f"At width {cfg['reading_width']}, DLoR with `α` frozen at 1 (an identity path that adds no trainable "
        "parameter), trainable from 1 (the default) and trainable from 0 (the capacity of `αI` without the identity "
        "start), each at its own tuned rate, beside low-rank (whose blocks already carry the transformer's residual "
        f"connections). Validation loss over {cfg['seeds']} fresh seeds; the share is of the gain of `α` trainable from 1:",
        "",
        *table(
            [
                r
                | {
                    "loss": _loss(r),
                    "best": _best(r),
                    "gain": f"{float(r['gain_over_lowrank']):+.4f}",
                    "share": "-" if r["share_of_default_gain"] in ("", "nan") else f"{float(r['share_of_default_gain']):.0%}",
                }
                for r in rows
            ],
            [
                ("reading", "reading"),
                ("trainable_params", "trainable parameters"),
                ("best", "best rate"),
                ("loss", "val nats/byte, median (IQR)"),
                ("gain", "gain over low-rank"),
                ("share", "share of the default's gain"),
            ],
        ),
        "",
    ]


def _fit_table(fits: list[dict]) -> list[str]:
    """The least-squares lines of the gaps against log10(tokens); nothing when no width has two judged lengths."""
    if not fits:
        return []
    rows = [f | {"slope": f"{float(f['per_decade']):+.4f}", "at": _g(f["a"])} for f in fits]
    columns = [
        ("width", "width"),
        ("gap", "gap"),
        ("at", "at 1 token/param"),
        ("slope", "change per 10x tokens"),
        ("lengths", "lengths"),
    ]
    return [*table(rows, columns), ""]


def _length_lines(folder: Path, here: str) -> list[str]:
    path = folder / "lm_length_gaps.csv"
    if not path.exists():
        return []
    gaps = _rows(path)
    fits = _rows(folder / "lm_length_fits.csv")
    return [
        "## Training length",
        "",
        "Every variant trained again at each token budget, each (variant, length) tuned on the grid again (the best rate "
        "moves with the length), then the fresh seeds at its best rate. A gap that closes with length is what an "
        "optimisation effect predicts (an identity start trains faster, and low-rank catches up); a gap that holds is "
        "what Appendix G's capacity argument predicts.",
        "",
        *table(
            [
                g
                | {
                    "lo": f"{float(g['lowrank_minus_dlor']):+.4f}",
                    "de": f"{float(g['dense_minus_dlor']):+.4f}",
                    "iqr": _g(g["iqr"]),
                    "edge": "yes" if g["rate_on_edge"] == "True" else "",
                }
                for g in gaps
            ],
            [
                ("width", "width"),
                ("tokens_per_param", "tokens per parameter"),
                ("steps", "steps"),
                ("lo", "low-rank minus DLoR"),
                ("de", "dense minus DLoR"),
                ("iqr", "IQR (low-rank, DLoR)"),
                ("edge", "a rate on an edge"),
            ],
        ),
        "",
        *_fit_table(fits),
        f"![length trend]({here}/length_trend.png)",
        "",
    ]


def page(folder: Path, out: Path, shared: Path | None = None) -> str:
    """The page of the run in ``folder`` (``RUN_DIR/lm``), to be written at ``out``; ``shared`` is
    the folder of an earlier run at one shared learning rate, shown as a section of its own."""
    run = folder.parent
    summary = read_summary(folder)
    clock = wall_clock(folder)
    cfg = summary["config"]
    here = rel(folder, out)
    tuned = _rows(folder / "lm_tuned.csv")
    readings = _rows(folder / "lm_readings.csv")
    effects = _rows(folder / "lm_reading_effects.csv")
    fits = _rows(folder / "lm_power_laws.csv")
    factors = cfg["reading_factors"]
    md = [
        "# Pretraining with DLoR projections (Appendix G)",
        "",
        'Appendix G calls `αI + UVᵀ` "a rigorous architectural blueprint for parameter-efficient pretraining" '
        "and runs no experiment on it. `dlor reproduce lm` pretrains byte-level GPTs (`dlor.lm`) whose attention "
        "and MLP projections are low-rank `UVᵀ`, DLoR `αI + UVᵀ` (same width and rank: they differ by one `α` per "
        "projection) or dense (matched in parameters), and compares them **each at its own tuned learning rate**, "
        "as structured-pretraining papers do (GaLore, SLTrain, CoLA).",
        "",
        f"This page is generated by `{GENERATOR}` from `{rel(run, out)}` ([its summary]({here}/summary.json)), a run at the "
        f"**{cfg['budget']}** budget" + (f" ({clock} on the project's 2-core machine)." if clock else "."),
        "",
        "```bash",
        f"dlor reproduce lm --budget {cfg['budget']} --out DIR",
        "dlor reproduce lm --budget quick --out DIR              # minutes",
        "dlor reproduce lm --corpus MY_TEXT/ --device cuda ...   # the same study on your text, on a GPU",
        "dlor reproduce lm --set rates=1e-4,3e-4,1e-3,3e-3,1e-2 --set factor_init=zero_u ...   # any config field",
        "```",
        "",
        "## Verdicts",
        "",
        *table(
            [{"claim": c["claim"], "measured": c["measured"], "verdict": f"**{c['verdict']}**"} for c in summary["claims"]],
            [("claim", "claim"), ("measured", "measured (threshold)"), ("verdict", "verdict")],
        ),
        "",
        "## The protocol",
        "",
        f"- Sizes: widths {', '.join(str(w) for w in cfg['widths'])}, {cfg['n_layer']} layers, {cfg['n_head']} heads, "
        f"rank = {cfg['rank_fraction']:g} x width, context {cfg['block_size']} bytes, {cfg['batch_size']} windows per step.",
        f"- Token budget: {_g(cfg['tokens_per_param'])} training tokens per parameter of the size's DLoR model "
        f"(Chinchilla's compute-optimal rule is about 20), at least {cfg['min_steps']} steps: "
        + ", ".join(f"{s} steps at width {w}" for w, s in cfg["steps"].items())
        + ".",
        f"- Learning rates: the grid {', '.join(_g(r, 3) for r in cfg['rates'])} (AdamW, warm-up then cosine), "
        f"trained with a tuning seed of its own ({cfg['tuning_seed']}); a best rate on an edge extends the grid by one "
        f"rate beyond it, up to {cfg['max_extensions']} times, and a size whose best rate stays on an edge is not judged.",
        f"- Verdicts: {cfg['seeds']} fresh seeds of every variant at every size, at its best rate; a difference counts "
        f"when it exceeds max({cfg['margin']} nats/byte, the seeds' IQR).",
        "- Sparse plus low-rank (SLTrain, `S + UVᵀ`, `S` on a fixed random support, its values trained): at DLoR's "
        "parameter count within 1%. For each rank up to DLoR's, the density of `S` that fills the parameters the "
        "factors leave over is computed, and the rank whose density is closest to SLTrain's "
        f"{cfg.get('sltrain_density', 0.03):g} wins (its own rank at that density would overshoot the budget). "
        "It takes low-rank's reading, and its "
        "projections form `S + UVᵀ` once per step and apply it as one dense product (the same function; faster on a "
        "CPU at these widths, `benchmarks/bench_lm.py --sltrain`).",
        f"- Reading study at width {cfg['reading_width']}: every combination of {', '.join(f'`{f}`' for f in factors)} for DLoR, "
        "and of the shared ones for low-rank, each at its own tuned rate. "
        f"Default reading: **{cfg['default_reading_criterion']}** (no difference between variants enters it): "
        + "; ".join(f"{v}: `{r}`" for v, r in cfg["default_reading"].items())
        + ".",
        f"- Baselines: the unigram model reaches {_g(cfg['baselines_nats_per_byte']['unigram'])} nats/byte, "
        f"uniform bytes {_g(cfg['baselines_nats_per_byte']['uniform'])}; a size is judged only where every variant beats "
        "the unigram model.",
        "",
        "## The tuned comparison",
        "",
        "Validation loss in nats per byte, median and IQR over the fresh seeds, each variant at its best rate:",
        "",
        *table(
            [
                r
                | {
                    "loss": _loss(r),
                    "best": _best(r),
                }
                for r in tuned
            ],
            [
                ("width", "width"),
                ("variant", "variant"),
                ("params", "parameters"),
                ("reading", "reading"),
                ("best", "best rate"),
                ("loss", "val nats/byte, median (IQR)"),
            ],
        ),
        "",
        f"![learning-rate sweep]({here}/lr_sweep.png)",
        "",
        "## The size trend",
        "",
        f"![size trend]({here}/size_trend.png)",
        "",
        *table(
            [
                f
                | {
                    "a": _g(f["a"]),
                    "b": _g(f["exponent_b"]),
                    "ci": f"{_g(f['b_low'])} to {_g(f['b_high'])}" if f.get("b_low") else "-",
                }
                for f in fits
            ],
            [
                ("variant", "variant"),
                ("a", "a"),
                ("b", "exponent b (loss = a N^-b)"),
                ("ci", "95% interval of b (bootstrap over seeds)"),
                ("sizes", "sizes"),
            ],
        ),
        "",
        *_crossing_lines(cfg),
        f"These sizes ({min(int(r['params']) for r in tuned):,} to {max(int(r['params']) for r in tuned):,} parameters, "
        "trained for minutes on a CPU) say nothing "
        "certain about the scale of GaLore and SLTrain (60M to 1B parameters on C4): an advantage can grow, "
        "hold or vanish past them. `--corpus DIR` (any folder of text) and `--device cuda` run the same study "
        "larger, with `--set widths=...` and `--set tokens_per_param=...`. One size up, width 256 (about 0.7M "
        "parameters), needs about 6,600 steps a run and some 36 runs at this budget, five CPU-hours or more; on a GPU it is "
        "`dlor reproduce lm --budget paper --device cuda --set widths=32,64,128,256 --set length_widths=64 --out DIR`, "
        "which reuses every finished run of the three smaller sizes.",
        "",
        *_mechanism_lines(folder, cfg),
        *_length_lines(folder, here),
        "## The reading study",
        "",
        f"At width {cfg['reading_width']}, each reading at its own tuned rate; losses of {cfg['reading_seeds']} fresh seed(s):",
        "",
        *table(
            [
                r
                | {
                    "d": _g(r["dlor_val_nats"]),
                    "lo": _g(r["lowrank_val_nats"]),
                    "diff": f"{float(r['lowrank_minus_dlor']):+.4f}",
                    "dr": _g(r["dlor_best_rate"], 3),
                    "lr": _g(r["lowrank_best_rate"], 3),
                }
                for r in readings
            ],
            [(f, f) for f in factors]
            + [("dr", "DLoR rate"), ("d", "DLoR"), ("lr", "low-rank rate"), ("lo", "low-rank"), ("diff", "low-rank minus DLoR")],
        ),
        "",
        "How each choice moves low-rank minus DLoR (mean over the other choices; > 0 favours DLoR):",
        "",
        *table(
            [
                e
                | {
                    "a": f"{float(e['mean_diff_a']):+.4f}",
                    "b": f"{float(e['mean_diff_b']):+.4f}",
                    "eff": f"{float(e['effect_b_minus_a']):+.4f}",
                }
                for e in effects
            ],
            [
                ("factor", "factor"),
                ("choice_a", "choice a"),
                ("a", "mean at a"),
                ("choice_b", "choice b"),
                ("b", "mean at b"),
                ("eff", "b minus a"),
            ],
        ),
        "",
        _largest_effect(effects),
        "",
        f"![reading effects]({here}/reading_effects.png)",
        "",
        "With one factor at zero (`factor_init=zero_u`), every pure low-rank projection outputs 0 and passes no "
        "gradient to any factor, so the transformer blocks never start to learn (tested); `αI` gives DLoR a "
        "signal to start from. LoRA's zero factor works because a frozen dense weight sits beside it.",
        "",
    ]
    if shared is not None:
        rows = _rows(shared / "lm_summary.csv")
        shared_rel = rel(shared, out)
        md += [
            "## The earlier reading: one shared learning rate",
            "",
            f"An earlier run (`{shared_rel}`, [its summary]({shared_rel}/summary.json)) trained every variant at one rate, "
            "1e-3, at width 128 and "
            "ranks 8, 16 and 32 (2,000 steps, 3 seeds, sparse + low-rank included). It is superseded by the tuned "
            "comparison above and kept to show how much a shared rate decides:",
            "",
            *table(
                [r | {"loss": _loss(r)} for r in rows],
                [("budget_rank", "rank"), ("variant", "variant"), ("params", "parameters"), ("loss", "val nats/byte (IQR)")],
            ),
            "",
        ]
    return "\n".join(md + budget_note(cfg))
