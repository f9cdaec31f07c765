"""From the samples of one load to its figures (``bench.model.load``), in bounded memory.

``bench load`` can run for an hour at tens of thousands of requests a second, so it does
not keep its samples: each one goes to a ``LoadRecorder`` as it completes. Latencies are
kept exactly up to ``EXACT_LIMIT`` samples (short loads get exact percentiles, as
before); past that they go into an HDR histogram (Gil Tene's HdrHistogram, which wrk2
uses; the ``hdrhistogram`` package) with 3 significant digits, so memory stays flat in
the number of requests and every percentile is within 0.1 % of the true one (at 1 µs
resolution). Count, min, max, mean and standard deviation stay exact either way.

The hot path only appends a float to an array; values reach the histogram in batches,
counted first (``collections.Counter`` in C), so that a batch of 64 Ki samples costs a
few thousand histogram updates, not 64 Ki.
"""

from __future__ import annotations

import math
import operator
import time
from array import array
from collections import Counter
from collections.abc import Sequence
from itertools import repeat
from typing import Any

from hdrh.histogram import HdrHistogram

from bench.engine.load import Sample
from bench.model.document import CANCELLED, DROPPED
from bench.model.load import (
    PERCENTILES,
    Bucket,
    CurvePoint,
    Latency,
    LoadFigures,
    Second,
    curve_of,
    curve_percentiles,
    histogram,
    latency_of,
    log_buckets,
    one_second,
)

EXACT_LIMIT = 100_000  # samples kept exactly; beyond, percentiles come from the histogram
BATCH = 65_536
SIGNIFICANT_DIGITS = 3  # HDR precision: values within 10**-3 relative
HIGHEST_US = 3_600_000_000  # one hour, in microseconds
PRECISION_NOTE = "percentiles within 0.1 % (HDR histogram, 3 significant digits)"


class LatencyRecorder:
    """Latencies in seconds: exact while few, an HDR histogram beyond ``exact_limit``."""

    def __init__(self, exact_limit: int = EXACT_LIMIT) -> None:
        self.exact_limit = exact_limit
        self.batch = exact_limit + 1  # values waiting before they go into the histogram (or make it)
        self.values = array("d")  # exact values, or the batch waiting for the histogram
        self.hdr: HdrHistogram | None = None
        self.count = 0
        self.total = 0.0
        self.total_sq = 0.0
        self.low = math.inf
        self.high = -math.inf

    def add(self, value_s: float) -> None:
        self.values.append(value_s)
        if len(self.values) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """The values waiting go into the histogram (made now if need be); the array is emptied in place."""
        values = self.values
        if not values:
            return
        self.count += len(values)
        self.total += math.fsum(values)
        self.total_sq += math.fsum(map(operator.mul, values, values))
        self.low = min(self.low, min(values))
        self.high = max(self.high, max(values))
        if self.hdr is None:
            self.hdr = HdrHistogram(1, HIGHEST_US, SIGNIFICANT_DIGITS)
            self.batch = BATCH
        # counted in C (map, round, Counter); the clamp then runs once per distinct value, not per value
        for micros, n in Counter(map(round, map(operator.mul, values, repeat(1e6)))).items():
            self.hdr.record_value(min(HIGHEST_US, max(1, micros)), n)
        del values[:]

    @property
    def exact(self) -> bool:
        return self.hdr is None

    def __len__(self) -> int:
        return self.count + len(self.values)

    def latency(self) -> Latency | None:
        if self.hdr is None:
            return latency_of(self.values)
        self.flush()
        n = self.count
        mean = self.total / n
        variance = max(0.0, self.total_sq / n - mean * mean)
        p = {q: self.hdr.get_value_at_percentile(q) / 1000 for q in PERCENTILES}
        return Latency(
            min_ms=self.low * 1000,
            mean_ms=mean * 1000,
            stdev_ms=math.sqrt(variance) * 1000,
            p50_ms=min(max(p[50.0], self.low * 1000), self.high * 1000),
            p90_ms=min(max(p[90.0], self.low * 1000), self.high * 1000),
            p99_ms=min(max(p[99.0], self.low * 1000), self.high * 1000),
            p99_9_ms=min(max(p[99.9], self.low * 1000), self.high * 1000),
            max_ms=self.high * 1000,
        )

    def curve(self) -> list[CurvePoint]:
        """Latency by percentile (``loadfigures.curve_percentiles``), exact or from the histogram."""
        if self.hdr is None:
            return curve_of(self.values)
        self.flush()
        points = [
            CurvePoint(
                percentile=q, ms=min(max(self.hdr.get_value_at_percentile(q) / 1000, self.low * 1000), self.high * 1000)
            )
            for q in curve_percentiles(self.count)[:-1]
        ]
        return [*points, CurvePoint(percentile=100.0, ms=self.high * 1000)]

    def export(self) -> dict[str, Any]:
        """What another process needs to merge this one in (``absorb``): plain, picklable data."""
        return {
            "values": self.values.tobytes(),
            "hdr": None if self.hdr is None else self.hdr.encode(),
            "count": self.count,
            "total": self.total,
            "total_sq": self.total_sq,
            "low": self.low,
            "high": self.high,
        }

    def absorb(self, other: dict[str, Any]) -> None:
        """Another recorder's ``export``, merged in: exact while both are and the sum fits."""
        values = array("d")
        values.frombytes(other["values"])
        if self.hdr is None and other["hdr"] is None and len(self) + len(values) <= self.exact_limit:
            self.values.extend(values)
            return
        if self.hdr is None:
            self.hdr = HdrHistogram(1, HIGHEST_US, SIGNIFICANT_DIGITS)
            self.batch = BATCH
        self.values.extend(values)
        self.flush()
        if other["hdr"] is not None:
            self.hdr.add(HdrHistogram.decode(other["hdr"]))
            self.count += other["count"]
            self.total += other["total"]
            self.total_sq += other["total_sq"]
            self.low = min(self.low, other["low"])
            self.high = max(self.high, other["high"])

    def buckets(self, count: int = 10) -> list[Bucket]:
        """Logarithmic buckets from the fastest to the slowest (``loadfigures.histogram``)."""
        if self.hdr is None:
            return histogram(self.values, count)
        self.flush()
        recorded = self.hdr.get_recorded_iterator()
        pairs = ((item.value_iterated_to / 1000, item.count_at_value_iterated_to) for item in recorded)
        return log_buckets(self.low * 1000, self.high * 1000, pairs, count)


class LoadRecorder:
    """Everything ``bench load`` reports, accumulated one sample at a time."""

    def __init__(self, exact_limit: int = EXACT_LIMIT) -> None:
        self.latencies = LatencyRecorder(exact_limit)
        self.took = self.latencies.values  # the same array, always (the histogram empties it in place)
        self.queued = LatencyRecorder(exact_limit)
        self.connects = LatencyRecorder(exact_limit)
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.dropped = 0
        self.cancelled = 0
        self.first_sent = math.inf
        self.last_responded = -math.inf
        self.last_event = -math.inf  # the last answer or failure: a load where all failed still lasted
        # Second by second (loadfigures.Second), as the samples come in: only the second being
        # filled keeps its latencies; each one closed becomes a count and an exact p99.
        self.origin: float | None = None
        self.second = 0  # the second being filled, from the first request sent
        self.boundary = -math.inf  # when it ends (until the first answer: now)
        self.second_took = array("d")
        self.second_errors = 0
        self.closed: list[Second] = []
        self.merged: list[tuple[float, list[Second]]] = []  # other processes' seconds (absorb), by origin

    def add(self, s: Sample) -> None:
        if s.error is not None:
            if s.error == DROPPED:
                self.dropped += 1
                return
            if s.error == CANCELLED:
                self.cancelled += 1
                self.first_sent = min(self.first_sent, s.sent)
                self.last_event = max(self.last_event, time.time())
                return
            self.errors[s.error] += 1
            self.last_event = max(self.last_event, time.time())  # when it failed: the load ran until then
        if self.origin is None:
            self.origin = s.sent
            self.boundary = s.sent + 1.0
        if s.sent < self.first_sent:
            self.first_sent = s.sent
        if s.queued_s is not None:
            self.queued.add(s.queued_s)
        if s.connect_s is not None:
            self.connects.add(s.connect_s)
        if s.responded is None or s.status is None:
            if s.error is not None:  # failed at some moment after it was sent: counted in the second it came in
                self._roll(s.sent)
                self.second_errors += 1
            return
        self.statuses[s.status] += 1
        took = s.responded - s.sent
        self.latencies.add(took)
        if s.responded >= self.boundary:
            self._roll(s.responded)
        self.second_took.append(took)
        if s.responded > self.last_responded:
            self.last_responded = s.responded

    def answered(self, sent: float, took: float, status: int, connect_s: float | None) -> None:
        """``add`` for an answer, without its ``Sample``: the closed loop's hot path. ``sent`` in wall
        seconds; ``took`` as measured (not a difference of two wall times, which loses 0.2 µs). The
        latencies wait for the second's end to go into the histogram."""
        responded = sent + took
        if responded >= self.boundary:
            self._turn(sent, responded)
        self.took.append(took)
        self.second_took.append(took)
        self.statuses[status] += 1
        if sent < self.first_sent:
            self.first_sent = sent
        if responded > self.last_responded:
            self.last_responded = responded
        if connect_s is not None:
            self.connects.add(connect_s)

    def _turn(self, sent: float, now: float) -> None:
        """A second ended (or the first answer came): roll, and let the latencies reach the histogram."""
        if self.origin is None:
            self.origin, self.boundary = sent, sent + 1.0
        self._roll(now)
        if len(self.took) >= self.latencies.batch:
            self.latencies.flush()

    def _roll(self, now: float) -> None:
        """Close every second that ended before ``now``."""
        while now >= self.boundary:
            self.closed.append(one_second(float(self.second), self.second_took, self.second_errors))
            self.second += 1
            self.boundary += 1.0
            self.second_took, self.second_errors = array("d"), 0

    def seconds(self) -> list[Second]:
        """Every second so far, the last one (maybe partial) included if anything happened in it."""
        last = [one_second(float(self.second), self.second_took, self.second_errors)]
        return self.closed + (last if self.second_took or self.second_errors else [])

    def export(self) -> dict[str, Any]:
        """Everything recorded, as plain data for another process to ``absorb``."""
        return {
            "latencies": self.latencies.export(),
            "queued": self.queued.export(),
            "connects": self.connects.export(),
            "statuses": dict(self.statuses),
            "errors": dict(self.errors),
            "dropped": self.dropped,
            "cancelled": self.cancelled,
            "first_sent": self.first_sent,
            "last_responded": self.last_responded,
            "last_event": self.last_event,
            "origin": self.origin,
            "seconds": [s.model_dump() for s in self.seconds()],
        }

    def absorb(self, other: dict[str, Any]) -> None:
        """Another process's ``export`` merged into this one (``bench load -t``). Seconds are
        aligned on the wall clock: answers and errors add up, a second's p99 is the highest."""
        self.latencies.absorb(other["latencies"])
        self.queued.absorb(other["queued"])
        self.connects.absorb(other["connects"])
        self.statuses.update({int(k): v for k, v in other["statuses"].items()})
        self.errors.update(other["errors"])
        self.dropped += other["dropped"]
        self.cancelled += other["cancelled"]
        self.first_sent = min(self.first_sent, other["first_sent"])
        self.last_responded = max(self.last_responded, other["last_responded"])
        self.last_event = max(self.last_event, other["last_event"])
        if other["origin"] is not None:
            self.merged.append((other["origin"], [Second.model_validate(s) for s in other["seconds"]]))

    def merged_seconds(self) -> list[Second]:
        origin = min(o for o, _ in self.merged)
        by: dict[int, Second] = {}
        for start, seconds in self.merged:
            shift = round(start - origin)
            for s in seconds:
                at = int(s.at_s) + shift
                was = by.get(at)
                if was is None:
                    by[at] = s.model_copy(update={"at_s": float(at)})
                    continue
                p99 = max((p for p in (was.p99_ms, s.p99_ms) if p is not None), default=None)
                by[at] = Second(
                    at_s=float(at), requests=was.requests + s.requests, errors=was.errors + s.errors, p99_ms=p99
                )
        last = max(by, default=-1)
        return [by.get(t, Second(at_s=float(t), requests=0, errors=0)) for t in range(last + 1)]

    def add_all(self, samples: Sequence[Sample]) -> LoadRecorder:
        for s in samples:
            self.add(s)
        return self

    def figures(self, url: str, pattern: str, client: str, loop: str, connections: int) -> LoadFigures:
        answered = len(self.latencies)
        span = self.last_responded - self.first_sent if answered else 0.0
        lasted = max(self.last_responded, self.last_event) - self.first_sent
        return LoadFigures(
            url=url,
            pattern=pattern,
            client=client,
            loop=loop,
            connections=connections,
            duration_s=max(0.0, span, lasted if math.isfinite(lasted) else 0.0),
            requests=answered,
            requests_per_s=answered / span if span > 0 else 0.0,
            statuses={str(k): v for k, v in sorted(self.statuses.items())},
            errors=dict(self.errors),
            dropped=self.dropped,
            cancelled=self.cancelled,
            non_2xx=sum(n for status, n in self.statuses.items() if not 200 <= status < 300),
            latency=self.latencies.latency(),
            client_queue=self.queued.latency(),
            connect=self.connects.latency(),
            histogram=self.latencies.buckets(),
            precision="exact" if self.latencies.exact else PRECISION_NOTE,
            curve=self.latencies.curve(),
            seconds=self.merged_seconds() if self.merged else self.seconds(),
        )


def figures(samples: Sequence[Sample], url: str, pattern: str, client: str, loop: str, connections: int) -> LoadFigures:
    """The figures of a load whose samples were kept (tests, short loads)."""
    return LoadRecorder().add_all(samples).figures(url, pattern, client, loop, connections)
