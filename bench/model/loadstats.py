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

from bench.model.percentiles import percentile, percentile_of_sorted

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


class Second(BaseModel):
    """One second of a load, by when the answers came: how many, how many failed, the p99 then."""

    at_s: float  # the second's start, from the first request sent
    requests: int  # answered in this second
    errors: int  # failed requests sent in this second (a sample has no time of failure)
    p99_ms: float | None = None  # within LOG_STEP of the true value (log buckets); None: nothing answered or not known


class CurvePoint(BaseModel):
    """A point of the latency-by-percentile curve (HdrHistogram's percentile distribution)."""

    percentile: float
    ms: float


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


# Per-second p99s come from logarithmic buckets 2**(1/16) apart: within 4.4 % of the true
# value, in memory that does not grow with the requests.
LOG_STEP = 2 ** (1 / 16)
_PER_DOUBLING = 16


def log_bucket(latency_s: float) -> int:
    """The bucket of a latency: bucket b holds latencies up to LOG_STEP**b microseconds."""
    micros = max(1.0, latency_s * 1e6)
    return math.ceil(math.log2(micros) * _PER_DOUBLING - 1e-9)


def bucket_ms(bucket: int) -> float:
    """A bucket's upper edge in milliseconds."""
    return float(2 ** (bucket / _PER_DOUBLING) / 1000)


def quantile_of_buckets(counts: dict[int, int], q: float) -> float | None:
    """The ``q`` percentile (0-100) of latencies counted in log buckets, in ms (a bucket's upper edge)."""
    total = sum(counts.values())
    if not total:
        return None
    rank = math.ceil(q / 100 * total)
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= max(1, rank):
            return bucket_ms(bucket)
    return bucket_ms(max(counts))


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
    """Second by second from (when answered or sent if it failed, latency or None for an error) pairs,
    times from the first request sent."""
    answered: dict[int, dict[int, int]] = {}
    failed: dict[int, int] = {}
    for at_s, latency_s in events:
        second = max(0, int(at_s))
        if latency_s is None:
            failed[second] = failed.get(second, 0) + 1
        else:
            counts = answered.setdefault(second, {})
            b = log_bucket(latency_s)
            counts[b] = counts.get(b, 0) + 1
    return seconds_of(answered, failed)


def seconds_of(answered: dict[int, dict[int, int]], failed: dict[int, int]) -> list[Second]:
    """Every second from the first to the last with anything in it, empty ones included."""
    last = max([*answered, *failed], default=-1)
    return [
        Second(
            at_s=float(t),
            requests=sum(answered.get(t, {}).values()),
            errors=failed.get(t, 0),
            p99_ms=quantile_of_buckets(answered.get(t, {}), 99.0),
        )
        for t in range(last + 1)
    ]


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
