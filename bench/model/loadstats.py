"""The figures of one ``bench load``: what wrk, hey and oha users look for.

Requests, req/s, errors by kind, status codes, latency percentiles up to p99.9, and a
small latency histogram; for an open loop also the client-side queue and dropped
requests. Pure data and pure functions; ``bench.engine.recorder`` fills them in.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

from pydantic import BaseModel

from bench.model.metrics import percentile

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
    precision: str = "exact"  # or how close the percentiles are (bench.engine.recorder)
    interrupted: bool = False  # Ctrl-C: the figures of what was measured until then


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
    return log_buckets(min(values_s) * 1000, max(values_s) * 1000, ((v * 1000, 1) for v in values_s), buckets)


def log_buckets(lo_ms: float, hi_ms: float, counted: Iterable[tuple[float, int]], buckets: int = 10) -> list[Bucket]:
    """``buckets`` logarithmic buckets from ``lo_ms`` to ``hi_ms`` over (value in ms, how many) pairs:
    every sample once, or an HDR histogram's recorded values with their counts."""
    pairs = list(counted)
    if hi_ms <= lo_ms * 1.0001:
        return [Bucket(from_ms=lo_ms, to_ms=hi_ms, count=sum(n for _, n in pairs))]
    lo = max(lo_ms, 1e-3)
    edges = [lo * (hi_ms / lo) ** (i / buckets) for i in range(buckets + 1)]
    counts = [0] * buckets
    for ms, n in pairs:
        i = 0 if ms <= lo else min(buckets - 1, int(buckets * math.log(ms / lo) / math.log(hi_ms / lo)))
        counts[i] += n
    return [Bucket(from_ms=edges[i], to_ms=edges[i + 1], count=counts[i]) for i in range(buckets)]
