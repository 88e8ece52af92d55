"""The reproduction report: ``report.md`` and a self-contained ``report.html``."""

from __future__ import annotations

import base64
import html
from datetime import datetime, timezone
from pathlib import Path

from ._common import Summary

VERDICT_COLOURS = {"confirmed": "#1a7f37", "partially confirmed": "#9a6700", "not confirmed": "#cf222e", "not judged": "#57606a"}


def _claims_rows(summaries: list[Summary]):
    for s in summaries:
        for c in s.claims:
            yield s, c


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
        "## Claims",
        "",
        "| experiment | claim | paper | measured | verdict |",
        "|---|---|---|---|---|",
    ]
    for s, c in _claims_rows(summaries):
        md.append(f"| {s.name} | {_cell(c.claim)} | {_cell(c.source)} | {_cell(c.measured)} | **{c.verdict}** |")
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
        "img{max-width:100%}figure{margin:1em 0}</style></head><body>",
        "<h1>DLoR reproduction report</h1>",
        f"<p>arXiv 2605.05659. Budget <b>{e(budget)}</b>; generated {e(stamp)}; machine {e(machine)}; "
        f"dlor {e(str(env.get('dlor')))}, torch {e(str(env.get('torch')))}.</p>",
        "<h2>Claims</h2><table><tr><th>experiment</th><th>claim</th><th>paper</th><th>measured</th><th>verdict</th></tr>",
    ]
    for s, c in _claims_rows(summaries):
        colour = VERDICT_COLOURS.get(c.verdict, "#000")
        parts.append(
            f"<tr><td>{e(s.name)}</td><td>{e(c.claim)}</td><td>{e(c.source)}</td><td>{e(c.measured)}</td>"
            f"<td style='color:{colour}'><b>{e(c.verdict)}</b></td></tr>"
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
