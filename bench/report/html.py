"""A self-contained HTML report of a run: tables, claims and an SVG timeline per variant.

Written beside every run's ``run.json`` (``report.html``). No scripts, no fonts, no CDN:
one file that opens anywhere, also offline. The timeline draws each request as a row:
a blue bar while it waited for its answer, an orange bar while its work still ran after
the answer, a green dot when the work was recorded done.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from bench import contract
from bench.model import load as loadfigures
from bench.model.document import LoadDocument, RunDocument, VariantResult
from bench.report.charts import histogram_svg, latency_section, per_second_svg, percentile_svg
from bench.report.tables import (
    CLAIM_PROSE,
    Cell,
    Column,
    Grid,
    capacity_grid,
    claims_grid,
    figures_grid,
    latency_grid,
    runs_grid,
    sweep_points,
)
from bench.report.words import describe_load, diagnosis_lines, held_lines, seconds, theory_done

MAX_ROWS = 60  # requests drawn per timeline; more would be a smear
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:2em}
.meta{color:#666} table{border-collapse:collapse;margin:.6em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right} th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left} .ok{color:#1a7f37;font-weight:bold} .no{color:#c62828;font-weight:bold}
td.text{text-align:left} .why{color:#555} .finding{color:#8a5a00} svg{background:#fafafa;border:1px solid #eee}
.legend span{margin-right:1.5em} .charts{display:flex;flex-wrap:wrap;gap:1em;margin:.5em 0}
"""
MIN_FOR_DISTRIBUTION = 10  # answered requests below which a histogram says nothing


def _cell(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    return str(value) if isinstance(value, int) else seconds(value, digits)


TONES = {"": "", "strong": "b", "dim": "why", "good": "ok", "bad": "no", "warn": "finding"}


def html_of(cell: Cell) -> str:
    out = []
    for span in cell.spans:
        text = escape(span.text).replace("\n", "<br>")
        if span.tone == "strong":
            out.append(f"<b>{text}</b>")
        elif span.tone:
            out.append(f"<span class='{TONES[span.tone]}'>{text}</span>")
        else:
            out.append(text)
    return "".join(out)


def html_table(grid: Grid) -> str:
    """A grid typeset as an HTML table (its title is the caller's heading)."""
    head = "".join(f"<th>{escape(c.title)}</th>" for c in grid.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html_of(cell)}</td>" if column.numeric else f"<td class='text'>{html_of(cell)}</td>"
            for column, cell in zip(grid.columns, row, strict=True)
        )
        + "</tr>"
        for row in grid.rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def round_step(span: float, most: int = 10) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving at most ``most`` ticks over ``span``."""
    if span <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(span / most))
    return float(next(m * power for m in (1, 2, 5, 10) if span / (m * power) <= most))


def timeline_svg(v: VariantResult, end_s: float, width: int = 900) -> str:
    requests = v.requests[:MAX_ROWS]
    row, left = 14, 40
    height = row * max(1, len(requests)) + 30
    scale = (width - left - 10) / (end_s or 1.0)

    def x(t: float) -> float:
        return left + t * scale

    parts = [
        f'<svg class="timeline" data-variant="{escape(v.name)}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="timeline of {escape(v.name)}">'
    ]
    step = round_step(end_s)
    for tick in range(int(end_s / step + 1e-9) + 1):
        t = tick * step
        parts.append(
            f'<line x1="{x(t):.1f}" y1="0" x2="{x(t):.1f}" y2="{height - 18}" stroke="#eee"/>'
            f'<text x="{x(t):.1f}" y="{height - 4}" font-size="10" text-anchor="middle">{t:g} s</text>'
        )
    for i, r in enumerate(requests):
        y = i * row + 4
        parts.append(f'<text x="4" y="{y + 9}" font-size="10">{r.client}</text>')
        answered = r.responded_s if r.responded_s is not None else r.done_s
        if answered is not None:
            parts.append(
                f'<rect x="{x(r.sent_s):.1f}" y="{y}" width="{max(1.0, (answered - r.sent_s) * scale):.1f}" '
                f'height="9" fill="#3b7dd8"><title>tab {r.client}: answered at {answered:.3f} s</title></rect>'
            )
        if r.done_s is not None and r.responded_s is not None and r.done_s > r.responded_s:
            parts.append(
                f'<rect x="{x(r.responded_s):.1f}" y="{y + 2}" width="{(r.done_s - r.responded_s) * scale:.1f}"'
                f' height="5" fill="#f0a030"/>'
            )
        theory = theory_done(v, r.client)
        if theory is not None:
            parts.append(
                f'<path class="theory" d="M{x(theory):.1f} {y - 1} l4 5.5 l-4 5.5 l-4 -5.5 z" fill="none" '
                f'stroke="#a0309a"><title>theory: done at {theory:.3f} s</title></path>'
            )
        if r.done_s is not None:
            parts.append(
                f'<circle cx="{x(r.done_s):.1f}" cy="{y + 4.5}" r="3.5" fill="#1a7f37">'
                f"<title>work done at {r.done_s:.3f} s</title></circle>"
            )
        elif r.error:
            parts.append(
                f'<text x="{x(r.sent_s) + 2:.1f}" y="{y + 9}" font-size="10" fill="#c62828">✗ {escape(r.error)}</text>'
            )
    parts.append("</svg>")
    note = f"<p class='meta'>first {MAX_ROWS} of {len(v.requests)} requests</p>" if len(v.requests) > MAX_ROWS else ""
    return "".join(parts) + note


def sweep_chart(doc: RunDocument, width: int = 700, height: int = 300) -> str:
    """Throughput against connections (log scale), one line per variant: where each saturates."""
    groups = sweep_points(doc.variants)
    if not groups:
        return ""
    colours = ["#3b7dd8", "#f0a030", "#1a7f37", "#c62828", "#7b1fa2", "#00838f"]
    steps = sorted({n for points in groups.values() for n, _ in points})
    top = max((v.summary.throughput_rps or 0) for pts in groups.values() for _, v in pts if v.summary) or 1.0
    left, bottom = 60, height - 30
    span = math.log2(max(steps)) or 1.0

    def x(n: int) -> float:
        return left + (width - left - 20) * math.log2(n) / span

    def y(rate: float) -> float:
        return bottom - (bottom - 10) * rate / top

    parts = [
        f'<svg class="sweep" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" stroke="#999"/>',
        f'<line x1="{left}" y1="10" x2="{left}" y2="{bottom}" stroke="#999"/>',
        f'<text x="4" y="14" font-size="10">{top:,.0f} req/s</text>',
    ]
    parts += [f'<text x="{x(n):.1f}" y="{bottom + 14}" font-size="10" text-anchor="middle">{n}</text>' for n in steps]
    for i, (name, points) in enumerate(groups.items()):
        colour = colours[i % len(colours)]
        xy = " ".join(f"{x(n):.1f},{y(v.summary.throughput_rps or 0):.1f}" for n, v in points if v.summary)
        parts.append(
            f'<polyline class="series" data-variant="{escape(name)}" points="{xy}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(f'<text x="{width - 150}" y="{20 + 14 * i}" font-size="11" fill="{colour}">{escape(name)}</text>')
    parts.append("</svg>")
    return "<h2>Sweep: throughput against connections</h2>" + "".join(parts)


def render(doc: RunDocument) -> str:
    sc = doc.scenario
    ran = [v for v in doc.variants if v.summary is not None]
    out = [
        page_start(doc.run_id, CSS),
        f"<h1>{escape(sc.name)}: {escape(sc.title)}</h1>",
        f"<p class='meta'>{escape(describe_load(sc.load, sc.scaled))}; "
        + ("d measured per app (your apps). " if any(v.own for v in sc.variants) else "")
        + f"d = {seconds(sc.scaled.work_s)} s (time scale {doc.time_scale:g}). Run "
        f"{escape(doc.run_id)} ({doc.status}), Python {escape(doc.environment.python)}, "
        f"{doc.environment.cpus_usable} CPUs."
        + (f" Variants {escape(doc.schedule)}." if doc.schedule else "")
        + "</p>",
    ]
    if doc.warnings:
        out.append("<ul class='finding'>" + "".join(f"<li>⚠ {escape(w)}</li>" for w in doc.warnings) + "</ul>")
    own = [v for v in doc.variants if v.diagnosis is not None]
    if own:
        out.append("<h2>Diagnosis of your app: blocking calls seen on the event loop</h2>")
        for v in own:
            items = "".join(
                f"<li class='{'no' if blocks else ''}'>{escape(line)}</li>" for line, blocks in diagnosis_lines(v)
            )
            out.append(f"<h3>{escape(v.name)} <span class='meta'>{escape(v.title)}</span></h3><ul>{items}</ul>")
    repeated = max((len(v.runs) for v in doc.variants), default=0)
    over = f", mean ± σ over {repeated} runs (lost and errors: all runs)" if repeated > 1 else ""
    out.append(f"<h2>Figures (seconds from the first request{over})</h2>")
    keys = ("response_p50_s", "response_max_s", "all_responded_s", "all_done_s", "expected", "done_time_p50_s")
    figures = figures_grid(doc.variants).pick(
        "variant", *keys, "loop_lag_max_s", "lost", "errors", "served_by", expected="expected all done"
    )
    out.append(html_table(figures))
    held = held_lines(doc.variants)
    if held:
        out.append("<h2>What held the event loop during the load (the loop watchdog)</h2><ul>")
        out += [f"<li class='no'>{escape(name)}: {escape(line)}</li>" for name, lines in held for line in lines]
        out.append("</ul>")
    out.append(runs_html(doc.variants))
    claims = doc.claims()
    if claims:
        out.append(f"<h2>Claims: {sum(c.holds for c in claims)} of {len(claims)} hold</h2>")
        grid = claims_grid(claims).fold("claim", CLAIM_PROSE)
        out.append(html_table(grid.pick("mark", "id", "measured", "expected")))
    out.append(sweep_chart(doc))
    distributions = [(v, request_charts(v)) for v in ran]
    if any(charts for _, charts in distributions):
        out.append(
            "<h2>Latency: histogram, by percentile, and per second</h2><p class='meta'>Response times "
            + ("of each variant's median run " if repeated > 1 else "")
            + "(request sent → response received); per second: answers (bars) and their p99 (line).</p>"
        )
        for v, charts in distributions:
            if charts:
                out.append(f"<h3>{escape(v.name)}</h3>{charts}")
    end = max((r.done_s or r.responded_s or 0.0 for v in ran for r in v.requests), default=1.0) or 1.0
    if ran and not sweep_points(doc.variants):
        out.append(
            "<h2>Timelines</h2><p class='legend'><span style='color:#3b7dd8'>■ waiting for the answer</span>"
            "<span style='color:#f0a030'>■ work still running after the answer</span>"
            "<span style='color:#1a7f37'>● work done</span>"
            "<span style='color:#a0309a'>◇ theory: done</span></p>"
        )
        for v in ran:
            out.append(f"<h3>{escape(v.name)} <span class='meta'>{escape(v.title)}</span></h3>")
            out.append(timeline_svg(v, end))
    out.append("<h2>Capacity and theory</h2>")
    out.append(html_table(capacity_grid(doc.variants).pick("variant", "capacity", "theory")))
    out.append("</body></html>\n")
    return "\n".join(out)


def runs_html(variants: list[VariantResult]) -> str:
    """Repeated runs: each main figure's mean ± σ, min … max and every run's value."""
    grid = runs_grid(variants)
    if grid is None:
        return ""
    warm = max(v.warmups for v in variants)
    after = f" after {warm} warm-up run{'s' if warm > 1 else ''}" if warm else ""
    return f"<h2>Over the runs{after}</h2>" + html_table(grid)


def request_charts(v: VariantResult) -> str:
    """A variant's latency charts from its requests ("" when too few were answered to draw a distribution)."""
    if v.locust is not None:  # Locust keeps its response times as a histogram, not per request
        return latency_section(
            histogram_svg(v.locust.histogram, f"latency histogram of {v.name}"),
            percentile_svg(v.locust.curve, f"latency by percentile of {v.name}"),
            per_second_svg(v.locust.seconds, f"requests per second of {v.name}"),
        )
    answered = [
        (r.responded_s, r.responded_s - r.sent_s) for r in v.requests if r.responded_s is not None and r.error is None
    ]
    if len(answered) < MIN_FOR_DISTRIBUTION:
        return ""
    latencies = [took for _, took in answered]
    failed = [(r.sent_s, None) for r in v.requests if r.error is not None]
    events: list[tuple[float, float | None]] = [*answered, *failed]
    return latency_section(
        histogram_svg(loadfigures.histogram(latencies), f"latency histogram of {v.name}"),
        percentile_svg(loadfigures.curve_of(latencies), f"latency by percentile of {v.name}"),
        per_second_svg(loadfigures.per_second(events), f"throughput and p99 per second of {v.name}"),
    )


def render_load(doc: LoadDocument) -> str:
    """The page of a saved ``bench load``: its figures and the three latency charts."""
    f = doc.figures
    head = [
        page_start(doc.run_id, CSS),
        f"<h1>bench load: {escape(f.url)}</h1>",
        f"<p class='meta'><code>{escape(doc.command)}</code><br>Run {escape(doc.run_id)} ({doc.status}), "
        f"{f.pattern} loop, {f.connections} connections, client {escape(f.client)} on {escape(f.loop)}; "
        f"Python {escape(doc.environment.python)}, {doc.environment.cpus_usable} CPUs.</p>",
    ]
    errors = ", ".join(f"{k}: {v}" for k, v in f.errors.items()) or "none"
    statuses = ", ".join(f"{k}: {v}" for k, v in f.statuses.items()) or "none"
    summary = (
        ("requests", f"{f.requests:,} in {f.duration_s:.2f} s"),
        ("requests per second", f"{f.requests_per_s:,.1f}"),
        ("status codes", statuses),
        ("errors", errors),
        ("non-2xx answers", str(f.non_2xx)),
        ("cancelled (in flight at the end)", str(f.cancelled)),
        ("not sent (open loop)", str(f.dropped)),
    )
    grid = Grid(
        "",
        (Column("what", "", numeric=False), Column("value", "", numeric=False)),
        tuple((Cell.of(name), Cell.of(value)) for name, value in summary),
    )
    body = [html_table(grid)]
    if f.latency is not None:
        body.append(f"<h2>Latency (ms; {escape(f.precision)})</h2>")
        body.append(html_table(latency_grid(f)))
    body.append(
        latency_section(
            histogram_svg(f.histogram, "latency histogram"),
            percentile_svg(f.curve, "latency by percentile"),
            per_second_svg(f.seconds, "throughput and p99 per second"),
        )
    )
    if f.interrupted:
        body.append("<p class='finding'>Interrupted: the figures of what was measured until Ctrl-C.</p>")
    return "\n".join([*head, *body, "</body></html>\n"])


def write_load(doc: LoadDocument, folder: Path) -> Path:
    return write_page(render_load(doc), folder / contract.REPORT_PAGE)


def write(doc: RunDocument, folder: Path) -> Path:
    return write_page(render(doc), folder / contract.REPORT_PAGE)


def write_any(doc: RunDocument | LoadDocument, folder: Path) -> Path:
    """The page of any run document: a load's or a run's."""
    return write_load(doc, folder) if isinstance(doc, LoadDocument) else write(doc, folder)


def page_start(title: str, css: str) -> str:
    """The start of every page the reports write: its title and its own style, nothing fetched."""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{css}</style></head><body>"
    )


def write_page(page: str, target: Path) -> Path:
    """Write a page atomically: a browser reloading it never sees half of it."""
    tmp = target.with_suffix(".tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half page behind
        raise
    return target
