"""``bench load``: the rich rendering of one load's figures (``bench.model.load``).

The figures are the ones wrk, hey and oha users look for: requests, req/s, errors by
kind, status codes, latency percentiles up to p99.9 from every sample, and a small
latency histogram; plus, for an open loop, the client-side queue and dropped requests.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bench.model.load import LoadFigures
from bench.report.tables import latency_grid, milliseconds
from bench.report.terminal import rich_table


def build(f: LoadFigures, heading: str | None = None) -> Group:
    head = Text()
    if heading is not None:
        head.append(heading + "\n", style="dim")
    head.append(f"{f.url}", style="bold")
    if f.interrupted:
        head.append("  interrupted: the figures of what was measured until Ctrl-C", style="yellow")
    schedule = ", a queue per connection (wrk2's schedule)" if f.per_connection else ""
    line = f"  {f.pattern} loop{schedule} · {f.connections} connections · client {f.client} on {f.loop}"
    head.append(line, style="dim")
    summary = Table(box=None, show_header=False, padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("requests", f"{f.requests} in {f.duration_s:.2f} s = {f.requests_per_s:,.1f} req/s")
    summary.add_row("status codes", ", ".join(f"{k}: {v}" for k, v in f.statuses.items()) or "none")
    errors = ", ".join(f"{k}: {v}" for k, v in f.errors.items()) or "none"
    summary.add_row("errors", Text(errors, style="red" if f.errors else ""))
    if f.connect is not None:
        c = f.connect
        summary.add_row("connect", f"p50 {c.p50_ms:,.3f} ms · p99 {c.p99_ms:,.3f} ms · max {c.max_ms:,.3f} ms")
    if f.non_2xx:  # answers, but not successes: wrk's "Non-2xx or 3xx responses"
        summary.add_row("non-2xx", Text(f"{f.non_2xx} answers outside 200-299", style="red"))
    if f.cancelled:
        summary.add_row("cancelled", f"{f.cancelled} in flight when the load ended (not the server's errors)")
    if f.dropped or f.client_queue is not None:
        summary.add_row("not sent", Text(str(f.dropped), style="red" if f.dropped else ""))
        behind = client_behind(f)
        if behind:
            summary.add_row("", Text(behind, style="yellow"))
    parts: list[Table | Text] = [head, summary]
    table = rich_table(latency_grid(f))
    parts.append(table)
    if f.histogram:
        biggest = max(b.count for b in f.histogram) or 1
        hist = Table(title="latency histogram (ms)", title_justify="left", box=None, padding=(0, 1))
        hist.add_column(justify="right")
        hist.add_column()
        hist.add_column(justify="right")
        for b in f.histogram:
            bar = "█" * round(30 * b.count / biggest) if b.count else ""
            hist.add_row(f"{milliseconds(b.from_ms)} – {milliseconds(b.to_ms)}", Text(bar, style="cyan"), str(b.count))
        parts.append(hist)
    return Group(*parts)


def client_behind(f: LoadFigures) -> str | None:
    """One line when requests waited in the client (for a free connection of the pool) rather
    than at the server: the rate asked for was not what the server saw."""
    queue = f.client_queue
    if f.dropped:
        return (
            f"{f.dropped} requests were never sent: all {f.connections} connections stayed busy until the end "
            "(the server is slower than --rate; their latency would have been longer still)"
        )
    if queue is not None and f.latency is not None and queue.p99_ms > max(1.0, 0.1 * f.latency.p99_ms):
        return (
            f"requests waited up to {queue.max_ms:,.1f} ms in the client for a connection "
            f"(p99 {queue.p99_ms:,.1f} ms): counted in their latency; a bigger -c sends them on time"
        )
    return None
