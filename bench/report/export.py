"""Exporting a run: one small function per format, each from the document to text."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from bench.model.document import Document, LoadDocument, RequestRecord
from bench.model.load import Second
from bench.report.tables import FIGURES, Grid, claims_grid, figures_grid
from bench.results import to_json


def to_csv(doc: Document) -> str:
    """One row per request, every variant, with the variant's name in the first column; for a
    saved load (whose requests are not kept), one row per second."""
    out = io.StringIO()
    if isinstance(doc, LoadDocument):
        writer = csv.DictWriter(out, fieldnames=list(Second.model_fields), lineterminator="\n")
        writer.writeheader()
        for second in doc.figures.seconds:
            writer.writerow(second.model_dump())
        return out.getvalue()
    fields = ["variant", *RequestRecord.model_fields]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for v in doc.variants:
        for r in v.requests:
            writer.writerow({"variant": v.name, **r.model_dump()})
    return out.getvalue()


def markdown_table(grid: Grid) -> list[str]:
    """A grid typeset as a Markdown table (its lines)."""
    lines = [
        "| " + " | ".join(c.title for c in grid.columns) + " |",
        "|" + "|".join("---:" if c.numeric else "---" for c in grid.columns) + "|",
    ]
    for row in grid.rows:
        lines.append("| " + " | ".join(cell.plain.replace("|", "\\|").replace("\n", " ") for cell in row) + " |")
    return lines


def load_markdown(doc: LoadDocument) -> str:
    f = doc.figures
    lines = [
        f"# bench load: {f.url}",
        "",
        f"Run `{doc.run_id}` ({doc.status}): `{doc.command}`; Python {doc.environment.python}, "
        f"{doc.environment.cpus_usable} CPUs.",
        "",
        "| requests | req/s | errors | p50 (ms) | p90 (ms) | p99 (ms) | p99.9 (ms) | max (ms) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lat = f.latency
    cells = (
        ["—"] * 5
        if lat is None
        else [f"{x:.3f}" for x in (lat.p50_ms, lat.p90_ms, lat.p99_ms, lat.p99_9_ms, lat.max_ms)]
    )
    lines.append(f"| {f.requests} | {f.requests_per_s:.1f} | {sum(f.errors.values())} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def to_markdown(doc: Document) -> str:
    if isinstance(doc, LoadDocument):
        return load_markdown(doc)
    lines = [
        f"# {doc.scenario.name}: {doc.scenario.title}",
        "",
        f"Run `{doc.run_id}` ({doc.status}), time scale {doc.time_scale:g}, "
        f"Python {doc.environment.python}, {doc.environment.cpus_usable} CPUs.",
        "",
    ]
    keys = ("response_p50_s", "response_max_s", "all_responded_s", "all_done_s", "expected", "parallelism")
    in_seconds = {k: f"{FIGURES[k].label} (s)" for k in keys if k in FIGURES and FIGURES[k].unit == "s"}
    figures = figures_grid(doc.variants).pick(
        "variant", *keys, "lost", "errors", "served_by", **in_seconds, expected="expected all done (s)"
    )
    lines += markdown_table(figures)
    claims = doc.claims()
    if claims:
        lines += [
            "",
            *markdown_table(claims_grid(claims).pick("mark", "id", "variant", "says", "measured", "expected")),
        ]
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[Document], str]] = {
    "json": to_json,
    "csv": to_csv,
    "markdown": to_markdown,
}
