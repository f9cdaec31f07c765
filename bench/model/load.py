"""The figures of one ``bench load``: what wrk, hey and oha users look for.

Requests, req/s, errors by kind, status codes, latency percentiles up to p99.9, and a
small latency histogram; for an open loop also the client-side queue and dropped
requests. Pure data and pure functions; ``bench.engine.load_recorder`` fills them in.
"""

from __future__ import annotations

import heapq
import math
import statistics
from collections.abc import Iterable, Sequence

from bench.model.base import Record
from bench.model.percentiles import percentile, percentile_of_sorted

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


class Latency(Record):
    min_ms: float
    mean_ms: float
    stdev_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p99_9_ms: float
    max_ms: float


class Bucket(Record):
    from_ms: float
    to_ms: float
    count: int


class Second(Record):
    """One second of a load, by when the answers came: how many, how many failed, the p99 then."""

    at_s: float  # the second's start, from the first request sent
    requests: int  # answered in this second
    errors: int  # requests that failed in this second (bench load: as the failures came in)
    p99_ms: float | None = None  # of the answers of this second, exact; None: none, or not known (Locust)


class CurvePoint(Record):
    """A point of the latency-by-percentile curve (HdrHistogram's percentile distribution)."""

    percentile: float
    ms: float


class LoadFigures(Record):
    url: str
    pattern: str
    client: str
    loop: str
    connections: int
    duration_s: float  # from the first request started to the last one finished
    requests: int  # answered, whatever the status
    requests_per_s: float
    statuses: dict[str, int]
    errors: dict[str, int]  # by kind; not counting dropped or cancelled
    dropped: int  # open loop: scheduled, never sent (no connection came free before the load ended)
    cancelled: int = 0  # in flight when the load ended (-d, Ctrl-C): neither an answer nor an error
    non_2xx: int = 0  # answered with a status outside 200-299 (counted in requests and statuses too)
    per_connection: bool = False  # open loop on wrk2's schedule: a queue per connection, not one for all
    latency: Latency | None
    client_queue: Latency | None  # open loop: intended start -> written
    connect: Latency | None = None  # TCP connects, one per connection opened (wrk's "Connect" row)
    histogram: list[Bucket]
    precision: str = "exact"  # or how close the percentiles are (bench.engine.load_recorder)
    interrupted: bool = False  # Ctrl-C: the figures of what was measured until then
    curve: list[CurvePoint] = []  # latency by percentile: 50, 75, 87.5 ... as far as the samples reach, then max
    seconds: list[Second] = []  # throughput and p99 second by second


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


def curve_percentiles(count: int) -> list[float]:
    """0, 50, 75, 87.5 ... (each halving what is left), as long as the samples can tell them
    apart, then 100: the x axis of wrk2's and HdrHistogram's latency-by-percentile plots."""
    points = []
    k = 0
    while count and 2**k <= count and k <= 20:
        points.append(100 * (1 - 2.0**-k))
        k += 1
    return [*points, 100.0] if count else []


def curve_of(values_s: Sequence[float]) -> list[CurvePoint]:
    """The latency-by-percentile curve of samples kept exactly."""
    ordered = sorted(v * 1000 for v in values_s)
    return [CurvePoint(percentile=q, ms=percentile_of_sorted(ordered, q)) for q in curve_percentiles(len(ordered))]


def per_second(events: Iterable[tuple[float, float | None]]) -> list[Second]:
    """Second by second from (when answered, or sent if it failed; latency, None for an error)
    pairs, times from the first request sent; every second from 0 to the last, empty ones too."""
    answered: dict[int, list[float]] = {}
    failed: dict[int, int] = {}
    for at_s, latency_s in events:
        second = max(0, int(at_s))
        if latency_s is None:
            failed[second] = failed.get(second, 0) + 1
        else:
            answered.setdefault(second, []).append(latency_s)
    last = max([*answered, *failed], default=-1)
    return [one_second(float(t), answered.get(t, []), failed.get(t, 0)) for t in range(last + 1)]


def one_second(at_s: float, latencies_s: Sequence[float], errors: int) -> Second:
    p99 = top_percentile(latencies_s, 99.0) * 1000 if latencies_s else None
    return Second(at_s=at_s, requests=len(latencies_s), errors=errors, p99_ms=p99)


def top_percentile(values: Sequence[float], q: float) -> float:
    """``percentile(values, q)`` for a high q, from the largest values only (no full sort: a
    second of 100,000 answers costs a few milliseconds)."""
    h = (len(values) - 1) * q / 100
    lo = math.floor(h)
    top = heapq.nlargest(len(values) - lo, values)  # descending: top[-1] is the value at rank lo
    above = top[-2] if len(top) > 1 else top[-1]
    return top[-1] + (h - lo) * (above - top[-1])


def curve_of_counted(counted: dict[float, int]) -> list[CurvePoint]:
    """The latency-by-percentile curve of values counted in a histogram (value in ms -> how many),
    as Locust records its response times: each point the smallest value with that share at or below."""
    total = sum(counted.values())
    ordered = sorted(counted.items())
    points = []
    for q in curve_percentiles(total):
        rank, seen = max(1, math.ceil(q / 100 * total)), 0
        for ms, n in ordered:
            seen += n
            if seen >= rank:
                points.append(CurvePoint(percentile=q, ms=ms))
                break
    return points
