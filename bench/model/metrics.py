"""Pure functions from request records to figures. No I/O; the words are the README's (*How to read it*).

- response time: request sent -> response fully received.
- done time: request sent -> its work recorded as finished in the ledger.
- all responded / all done: from the first request sent to the last response / the
  last unit of work finished (the tutorial's "total time").
- parallelism: total work-seconds / wall-seconds the work spanned.
- lost: requests answered 2xx whose work was never recorded done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bench.model.document import DROPPED, RequestRecord, Summary
from bench.model.percentiles import percentile as percentile


def parallelism(intervals: Sequence[tuple[float, float]]) -> float | None:
    """Total busy time of the intervals divided by the wall time they span together.

    1.0 means the work ran one piece after another; N means N pieces overlapped all
    the time. None when there is no work or it took no time.
    """
    if not intervals:
        return None
    busy = sum(end - start for start, end in intervals)
    span = max(end for _, end in intervals) - min(start for start, _ in intervals)
    return busy / span if span > 0 else None


def tail(values: Sequence[float]) -> tuple[float | None, float | None]:
    """(p99, max) of a series of latencies, or (None, None) when there are none."""
    if not values:
        return None, None
    return percentile(values, 99), max(values)


def is_success(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def summarise(records: Sequence[RequestRecord], observable: bool = True) -> Summary:
    """``observable=False``: the work's end cannot be seen (an own app with no done marker), so
    work not seen done is *unknown*, never *lost*."""
    ok = [r for r in records if is_success(r.status) and r.responded_s is not None]
    response = [r.responded_s - r.sent_s for r in ok if r.responded_s is not None]
    done = [r for r in ok if r.done_s is not None]
    done_times = [r.done_s - r.sent_s for r in done if r.done_s is not None]
    first = min(ok, key=lambda r: r.sent_s, default=None)
    dropped = [r for r in records if r.error == DROPPED]
    errors = [r for r in records if not is_success(r.status) and r.error != DROPPED]
    queued = [r.queued_s for r in records if r.queued_s is not None]
    span = (max(r.responded_s for r in ok if r.responded_s is not None) - min(r.sent_s for r in records)) if ok else 0
    by_kind = Counter(r.error or f"http {r.status}" for r in errors)
    pids = Counter(str(r.pid) for r in ok if r.pid is not None)
    intervals = [(r.work_start_s, r.done_s) for r in done if r.work_start_s is not None and r.done_s is not None]

    def pct(values: list[float], q: float) -> float | None:
        return percentile(values, q) if values else None

    return Summary(
        requests=len(records),
        ok=len(ok),
        first_response_s=(first.responded_s - first.sent_s) if first and first.responded_s is not None else None,
        response_min_s=min(response, default=None),
        response_p50_s=pct(response, 50),
        response_p95_s=pct(response, 95),
        response_p99_s=pct(response, 99),
        response_max_s=max(response, default=None),
        all_responded_s=max((r.responded_s for r in ok if r.responded_s is not None), default=None),
        all_done_s=max((r.done_s for r in done if r.done_s is not None), default=None),
        done_time_p50_s=pct(done_times, 50),
        done_time_max_s=max(done_times, default=None),
        parallelism=parallelism(intervals),
        lost=len(ok) - len(done) if observable else 0,
        unknown=0 if observable else len(ok) - len(done),
        errors=len(errors),
        errors_by_kind=dict(by_kind),
        dropped=len(dropped),
        throughput_rps=len(ok) / span if span > 0 else None,
        client_queue_p99_s=pct(queued, 99),
        busiest_worker_share=max(pids.values()) / len(ok) if pids and ok else None,
        work_began_p50_s=pct([r.work_start_s - r.sent_s for r in done if r.work_start_s is not None], 50),
        pids=dict(sorted(pids.items(), key=lambda kv: -kv[1])),
    )


def pid_split(pids: dict[str, int], workers: int) -> str:
    """'4 on pid 812, 0 on the other worker' — how the requests spread over processes."""
    parts = [f"{count} on pid {pid}" for pid, count in pids.items()]
    idle = workers - len(pids)
    if idle > 0 and pids:
        parts.append(f"0 on the other {idle} worker{'s' if idle > 1 else ''}")
    return ", ".join(parts)
