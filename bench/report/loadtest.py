"""``bench load``: the rich rendering of one load's figures (``bench.model.loadstats``).

The figures are the ones wrk, hey and oha users look for: requests, req/s, errors by
kind, status codes, latency percentiles up to p99.9 from every sample, and a small
latency histogram; plus, for an open loop, the client-side queue and dropped requests.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bench.model.loadstats import LoadFigures


def _ms(v: float) -> str:
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def build(f: LoadFigures, heading: str | None = None) -> Group:
    head = Text()
    if heading is not None:
        head.append(heading + "\n", style="dim")
    head.append(f"{f.url}", style="bold")
    if f.interrupted:
        head.append("  interrupted: the figures of what was measured until Ctrl-C", style="yellow")
    head.append(f"  {f.pattern} loop · {f.connections} connections · client {f.client} on {f.loop}", style="dim")
    summary = Table(box=None, show_header=False, padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("requests", f"{f.requests} in {f.duration_s:.2f} s = {f.requests_per_s:,.1f} req/s")
    summary.add_row("status codes", ", ".join(f"{k}: {v}" for k, v in f.statuses.items()) or "none")
    errors = ", ".join(f"{k}: {v}" for k, v in f.errors.items()) or "none"
    summary.add_row("errors", Text(errors, style="red" if f.errors else ""))
    if f.dropped or f.client_queue is not None:
        summary.add_row("dropped", Text(str(f.dropped), style="red" if f.dropped else ""))
    parts: list[Table | Text] = [head, summary]
    rows = [("latency", f.latency)]
    if f.client_queue is not None:
        rows.append(("client queue", f.client_queue))
    table = Table(title=f"ms ({f.precision})", title_justify="left")
    table.add_column("")
    for name in ("min", "p50", "p90", "p99", "p99.9", "max", "mean", "stdev"):
        table.add_column(name, justify="right")
    for name, lat in rows:
        if lat is not None:
            table.add_row(
                name,
                *(
                    _ms(v)
                    for v in (
                        lat.min_ms,
                        lat.p50_ms,
                        lat.p90_ms,
                        lat.p99_ms,
                        lat.p99_9_ms,
                        lat.max_ms,
                        lat.mean_ms,
                        lat.stdev_ms,
                    )
                ),
            )
    parts.append(table)
    if f.histogram:
        biggest = max(b.count for b in f.histogram) or 1
        hist = Table(title="latency histogram (ms)", title_justify="left", box=None, padding=(0, 1))
        hist.add_column(justify="right")
        hist.add_column()
        hist.add_column(justify="right")
        for b in f.histogram:
            bar = "█" * round(30 * b.count / biggest) if b.count else ""
            hist.add_row(f"{_ms(b.from_ms)} – {_ms(b.to_ms)}", Text(bar, style="cyan"), str(b.count))
        parts.append(hist)
    return Group(*parts)
