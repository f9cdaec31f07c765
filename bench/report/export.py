"""Exporting a run: one small function per format, each from the document to text."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from bench.model.document import Document, LoadDocument, RequestRecord
from bench.model.loadstats import Second
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


def _cell(value: float | int | None) -> str:
    if value is None:
        return "—"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


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
        "| variant | response p50 (s) | response max (s) | all responded (s) | all done (s) "
        "| expected all done (s) | parallelism | lost | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for v in doc.variants:
        s, e = v.summary, v.expected
        if s is None:
            lines.append(f"| {v.name} | failed to run | | | | | | | |")
            continue
        lines.append(
            f"| {v.name} | {_cell(s.response_p50_s)} | {_cell(s.response_max_s)} | "
            f"{_cell(s.all_responded_s)} | {_cell(s.all_done_s)} | {_cell(e.all_done_s if e else None)} | "
            f"{_cell(s.parallelism)} | {s.lost} | {s.errors} |"
        )
    claims = doc.claims()
    if claims:
        lines += ["", "| | claim | variant | says | measured | expected |", "|---|---|---|---|---:|---:|"]
        for c in claims:
            lines.append(
                f"| {'✓' if c.holds else '✗'} | {c.id} | {c.variant} | {c.says} | {c.measured_text} "
                f"| {c.expected_text} |"
            )
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[Document], str]] = {
    "json": to_json,
    "csv": to_csv,
    "markdown": to_markdown,
}
