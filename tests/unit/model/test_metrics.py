from __future__ import annotations

import pytest

from bench.model.document import RequestRecord
from bench.model.metrics import parallelism, percentile, summarise


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0], 50, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([4.0, 1.0, 3.0, 2.0], 50, 2.5),  # order does not matter
        ([10.0, 20.0, 30.0, 40.0, 50.0], 90, 46.0),  # numpy.percentile(..., 90) == 46.0
        (list(map(float, range(1, 101))), 99, 99.01),  # numpy: 99.01
        ([0.001, 0.002, 1.5], 50, 0.002),  # never rounded
    ],
)
def test_percentile_matches_linear_interpolation(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_rejects_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_parallelism_of_serial_and_overlapping_work() -> None:
    assert parallelism([(0, 1), (1, 2), (2, 3), (3, 4)]) == pytest.approx(1.0)
    assert parallelism([(0, 1), (0, 1), (0, 1), (0, 1)]) == pytest.approx(4.0)
    assert parallelism([(0, 1), (0.5, 1.5)]) == pytest.approx(2 / 1.5)
    assert parallelism([]) is None


def rec(
    client: int,
    sent: float,
    responded: float | None,
    done: float | None,
    status: int | None = 200,
    pid: int | None = 100,
    work_start: float | None = None,
    error: str | None = None,
) -> RequestRecord:
    return RequestRecord(
        client=client,
        token=f"t{client}",
        sent_s=sent,
        first_byte_s=responded,
        responded_s=responded,
        done_s=done,
        status=status,
        pid=pid,
        error=error,
        work_start_s=work_start if work_start is not None else (None if done is None else done - 1),
    )


def test_summary_of_a_serialised_run() -> None:
    records = [rec(1, 0.0, 1.0, 1.0), rec(2, 0.3, 2.0, 2.0), rec(3, 0.6, 3.0, 3.0), rec(4, 0.9, 4.0, 4.0)]
    s = summarise(records)
    assert s.requests == 4 and s.ok == 4
    assert s.first_response_s == pytest.approx(1.0)
    assert s.response_min_s == pytest.approx(1.0)
    assert s.response_max_s == pytest.approx(3.1)
    assert s.response_p50_s == pytest.approx(percentile([1.0, 1.7, 2.4, 3.1], 50))
    assert s.all_responded_s == 4.0 and s.all_done_s == 4.0
    assert s.done_time_max_s == pytest.approx(3.1)
    assert s.parallelism == pytest.approx(1.0)
    assert s.lost == 0 and s.errors == 0
    assert s.pids == {"100": 4}


def test_lost_errors_and_pid_split() -> None:
    records = [
        rec(1, 0.0, 0.01, 1.0, pid=7),
        rec(2, 0.0, 0.01, None, pid=7),  # answered 200, never recorded done: lost
        rec(3, 0.0, 0.02, 1.0, pid=8),
        rec(4, 0.0, None, None, status=None, pid=None, error="timeout"),
        rec(5, 0.0, 0.01, None, status=422, pid=8),  # rejected: an error, not lost work
    ]
    s = summarise(records)
    assert s.ok == 3
    assert s.lost == 1
    assert s.errors == 2
    assert s.errors_by_kind == {"timeout": 1, "http 422": 1}
    assert s.pids == {"7": 2, "8": 1}


def test_summary_of_nothing_answered() -> None:
    s = summarise([rec(1, 0.0, None, None, status=None, pid=None, error="connect")])
    assert s.ok == 0 and s.errors == 1
    assert s.response_p50_s is None and s.all_done_s is None and s.parallelism is None
