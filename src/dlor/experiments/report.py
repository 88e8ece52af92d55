"""The reproduction report: ``report.md`` and a self-contained ``report.html``."""

from __future__ import annotations

import base64
import html
from datetime import datetime, timezone
from pathlib import Path

from ._common import Claim, Summary
from ._published import Published, published

VERDICT_COLOURS = {"confirmed": "#1a7f37", "partially confirmed": "#9a6700", "not confirmed": "#cf222e", "not judged": "#57606a"}
INDICATIVE_COLOUR = "#8250df"  # a verdict that rests on one size, cell, seed or budget
PURPOSE = {
    "paper": "This run used the paper budget, the one the published verdicts come from; each verdict is shown "
    "beside the published one, and a difference between them is marked.",
    "other": "The {budget} budget checks that everything runs and shows the trends in minutes; the verdicts that "
    "stand are the paper budget's, published on the docs site and shown beside each verdict below.",
}


def purpose(budget: str) -> str:
    """The report's one-sentence statement of what its budget is for."""
    return PURPOSE["paper" if budget == "paper" else "other"].format(budget=budget)


def _claims_rows(summaries: list[Summary]):
    """``(summary, claim, published verdict or None)`` for every claim of the run."""
    known = published()
    for s in summaries:
        for c in s.claims:
            yield s, c, known.get(c.id)


def agreement(claim: Claim, pub: Published | None) -> str:
    """How the run's verdict of ``claim`` stands against the published one, as a sentence."""
    if pub is None:
        return "no published verdict for this claim"
    if pub.verdict == claim.verdict:
        return f"published: {pub.verdict} (agrees)"
    return f"DIFFERS: published {pub.verdict}; the paper budget's verdict holds"


def _evidence(c: Claim) -> str:
    note = c.evidence_note or "evidence not counted"
    return f"{note}; indicative" if c.indicative else note


def write_report(out: Path, summaries: list[Summary], unavailable: list[str], budget: str, environment: dict) -> None:
    """Write ``report.md`` and ``report.html`` into ``out`` from the experiments' summaries."""
    out = Path(out)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{environment.get('platform')}, {environment.get('torch_threads')} threads, device {environment.get('device')}"
    md = [
        "# DLoR reproduction report",
        "",
        "Paper: *Structural Correspondence and Universal Approximation in Diagonal plus Low-Rank Neural "
        "Networks* (arXiv 2605.05659).",
        "",
        f"- budget: **{budget}**",
        f"- generated: {stamp}",
        f"- machine: {machine}",
        "- versions: " + ", ".join(f"{name} {environment.get(name)}" for name in ("dlor", "torch", "numpy", "scipy")),
        "",
        purpose(budget),
        "",
        "## Claims",
        "",
        f"| experiment | claim | paper | measured | verdict ({budget} budget) | evidence | published verdict (paper budget) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s, c, pub in _claims_rows(summaries):
        standing = agreement(c, pub)
        if pub is not None and pub.verdict != c.verdict:
            standing = f"**[{standing}]({pub.page})**"
        md.append(
            f"| {s.name} | {_cell(c.claim)} | {_cell(c.source)} | {_cell(c.measured)} | **{c.verdict}** "
            f"| {_cell(_evidence(c))} | {_cell(standing)} |"
        )
    if unavailable:
        md += ["", "## Not available in this version", ""]
        md += [f"- `{name}`: its experiment is not implemented yet; nothing was faked." for name in unavailable]
    for s in summaries:
        md += ["", f"## {s.title}", "", f"Run time: {s.seconds:.1f} s.{_shrunk(s)}", ""]
        for table_name, rows in s.tables.items():
            if rows:
                keys = list(rows[0])
                md += [f"**{table_name}**", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
                md += ["| " + " | ".join(_cell(_fmt(r.get(k))) for k in keys) + " |" for r in rows]
                md.append("")
        md += [f"![{fig}]({fig})" for fig in s.figures]
        md += ["", "Data: " + ", ".join(f"[{d}]({d})" for d in s.data)]
    (out / "report.md").write_text("\n".join(md) + "\n")
    (out / "report.html").write_text(_html(out, summaries, unavailable, budget, stamp, machine, environment))


def _shrunk(s: Summary) -> str:
    """What the experiment's budget leaves out of its paper budget, as a sentence (or nothing)."""
    shrunk = s.config.get("shrunk") if isinstance(s.config, dict) else None
    return f" This budget shrinks the paper budget: {shrunk}." if shrunk else ""


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _published_cell(c: Claim, pub: Published | None) -> str:
    e = html.escape
    if pub is None:
        return "<td class='unpublished'><i>no published verdict for this claim</i></td>"
    colour = VERDICT_COLOURS.get(pub.verdict, "#000")
    verdict = f"<b style='color:{colour}'>{e(pub.verdict)}</b>"
    note = f"<br><small>{e(pub.evidence_note)}</small>" if pub.evidence else ""
    if pub.verdict == c.verdict:
        return f"<td class='agrees'>{verdict} (agrees){note}</td>"
    return (
        f"<td class='differs' style='background:#fff8c5'>&#9888; <b>differs</b>: {verdict}{note}<br>"
        f"the paper budget's verdict holds: <a href='{e(pub.page)}'>its page</a></td>"
    )


def _img(out: Path, rel: str) -> str:
    data = base64.b64encode((out / rel).read_bytes()).decode()
    name = html.escape(rel)
    return f'<figure><img alt="{name}" src="data:image/png;base64,{data}"/><figcaption>{name}</figcaption></figure>'


def _html(out, summaries, unavailable, budget, stamp, machine, env) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>DLoR reproduction report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px}"
        "img{max-width:100%}figure{margin:1em 0}td.agrees,td.differs,td.unpublished{min-width:11em}</style></head><body>",
        "<h1>DLoR reproduction report</h1>",
        f"<p>arXiv 2605.05659. Budget <b>{e(budget)}</b>; generated {e(stamp)}; machine {e(machine)}; "
        f"dlor {e(str(env.get('dlor')))}, torch {e(str(env.get('torch')))}.</p>",
        f"<p class='purpose'><b>{e(purpose(budget))}</b></p>",
        "<h2>Claims</h2><table class='claims'><tr><th>experiment</th><th>claim</th><th>paper</th><th>measured</th>"
        f"<th>verdict ({e(budget)} budget)</th><th>evidence</th><th>published verdict (paper budget)</th></tr>",
    ]
    for s, c, pub in _claims_rows(summaries):
        colour = VERDICT_COLOURS.get(c.verdict, "#000")
        ev = e(c.evidence_note or "evidence not counted")
        if c.indicative:
            ev += f" <span class='indicative' style='color:{INDICATIVE_COLOUR}'><b>indicative</b></span>"
        parts.append(
            f"<tr data-claim='{e(c.id)}'><td>{e(s.name)}</td><td>{e(c.claim)}</td><td>{e(c.source)}</td>"
            f"<td>{e(c.measured)}</td><td style='color:{colour}'><b>{e(c.verdict)}</b></td><td>{ev}</td>"
            f"{_published_cell(c, pub)}</tr>"
        )
    parts.append("</table>")
    if unavailable:
        parts.append("<h2>Not available in this version</h2><ul>")
        parts += [f"<li><code>{e(n)}</code>: not implemented yet; nothing was faked.</li>" for n in unavailable]
        parts.append("</ul>")
    for s in summaries:
        parts.append(f"<h2>{e(s.title)}</h2><p>Run time: {s.seconds:.1f} s.{e(_shrunk(s))}</p>")
        for table_name, rows in s.tables.items():
            if rows:
                keys = list(rows[0])
                parts.append(f"<p><b>{e(table_name)}</b></p><table><tr>" + "".join(f"<th>{e(k)}</th>" for k in keys) + "</tr>")
                parts += ["<tr>" + "".join(f"<td>{e(_fmt(r.get(k)))}</td>" for k in keys) + "</tr>" for r in rows]
                parts.append("</table>")
        parts += [_img(out, fig) for fig in s.figures]
        parts.append("<p>Data: " + ", ".join(f"<code>{e(d)}</code>" for d in s.data) + "</p>")
    # lets a headless browser report whether every figure decoded (see scripts/check_report_in_browser.py)
    parts.append(
        "<script>window.addEventListener('load', () => { const imgs = [...document.images]; "
        "const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length; "
        "document.body.setAttribute('data-images', ok + '/' + imgs.length); });</script>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)
