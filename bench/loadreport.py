"""``bench load``: the figures of one load (pure) and their rich rendering.

The figures are the ones wrk, hey and oha users look for: requests, req/s, errors by
kind, status codes, latency percentiles up to p99.9 from every sample, and a small
latency histogram; plus, for an open loop, the client-side queue and dropped requests.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel
from rich.console import Group
from rich.table import Table
from rich.text import Text

from bench.load import DROPPED, Sample
from bench.metrics import percentile

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


class Latency(BaseModel):
    min_ms: float
    mean_ms: float
    stdev_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p99_9_ms: float
    max_ms: float


class Bucket(BaseModel):
    from_ms: float
    to_ms: float
    count: int


class LoadFigures(BaseModel):
    url: str
    pattern: str
    client: str
    loop: str
    connections: int
    duration_s: float  # from the first request started to the last one finished
    requests: int  # answered, whatever the status
    requests_per_s: float
    statuses: dict[str, int]
    errors: dict[str, int]  # by kind; not counting dropped
    dropped: int
    latency: Latency | None
    client_queue: Latency | None  # open loop: intended start -> written
    histogram: list[Bucket]


def latency_of(values_s: Sequence[float]) -> Latency | None:
    if not values_s:
        return None
    ms = [v * 1000 for v in values_s]
    p = {q: percentile(ms, q) for q in PERCENTILES}
    return Latency(
        min_ms=min(ms),
        mean_ms=statistics.fmean(ms),
        stdev_ms=statistics.pstdev(ms),
        p50_ms=p[50.0],
        p90_ms=p[90.0],
        p99_ms=p[99.0],
        p99_9_ms=p[99.9],
        max_ms=max(ms),
    )


def histogram(values_s: Sequence[float], buckets: int = 10) -> list[Bucket]:
    """Logarithmic buckets from the fastest to the slowest sample (latencies span decades)."""
    if not values_s:
        return []
    lo, hi = min(values_s) * 1000, max(values_s) * 1000
    if hi <= lo * 1.0001:
        return [Bucket(from_ms=lo, to_ms=hi, count=len(values_s))]
    lo = max(lo, 1e-3)
    edges = [lo * (hi / lo) ** (i / buckets) for i in range(buckets + 1)]
    counts = [0] * buckets
    for v in values_s:
        ms = v * 1000
        i = 0 if ms <= lo else min(buckets - 1, int(buckets * math.log(ms / lo) / math.log(hi / lo)))
        counts[i] += 1
    return [Bucket(from_ms=edges[i], to_ms=edges[i + 1], count=counts[i]) for i in range(buckets)]


def figures(samples: Sequence[Sample], url: str, pattern: str, client: str, loop: str, connections: int) -> LoadFigures:
    answered = [s for s in samples if s.responded is not None and s.status is not None]
    latencies = [s.responded - s.sent for s in answered if s.responded is not None]
    started = [s.sent for s in samples if s.error != DROPPED]
    finished = [s.responded for s in answered if s.responded is not None]
    span = (max(finished) - min(started)) if finished and started else 0.0
    queued = [s.queued_s for s in samples if s.queued_s is not None]
    return LoadFigures(
        url=url,
        pattern=pattern,
        client=client,
        loop=loop,
        connections=connections,
        duration_s=span,
        requests=len(answered),
        requests_per_s=len(answered) / span if span > 0 else 0.0,
        statuses={str(k): v for k, v in sorted(Counter(s.status for s in answered).items())},
        errors=dict(Counter(s.error for s in samples if s.error and s.error != DROPPED)),
        dropped=sum(1 for s in samples if s.error == DROPPED),
        latency=latency_of(latencies),
        client_queue=latency_of(queued),
        histogram=histogram(latencies),
    )


def _ms(v: float) -> str:
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def build(f: LoadFigures) -> Group:
    head = Text()
    head.append(f"{f.url}", style="bold")
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
    table = Table(title="ms", title_justify="left")
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
