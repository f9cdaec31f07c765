"""d as the code writes it, or measured alone: which, and the run's note saying why."""

from __future__ import annotations

import pytest

from bench.lab.own_d import as_written
from bench.model.ownapp_calls import FoundCall
from bench.model.scenario import OwnApp

SLEEP = FoundCall(call="time.sleep", file="main.py", line=9, via=[], blocks_loop=True, seconds=0.5)


def own(rest_s: float, cpu_wait_s: float = 0.0) -> OwnApp:
    return OwnApp(spec="main.py:app", diagnosis=(SLEEP,), seconds_written=0.5, rest_s=rest_s, cpu_wait_s=cpu_wait_s)


def test_one_sleep_and_next_to_nothing_else_is_d_as_written() -> None:
    written = as_written(own(0.004, cpu_wait_s=0.03), "after-work")
    assert written is not None and written.d == 0.5
    assert written.said.startswith("d = 0.5 s as the code writes it (time.sleep at main.py:9;")
    assert "4.0 ms in the diagnosis, and 30.0 ms waiting for a busy CPU" in written.said


@pytest.mark.parametrize("rest_s", [0.011, 0.2])
def test_a_rest_over_two_per_cent_of_d_is_measured_alone_and_said(rest_s: float) -> None:
    written = as_written(own(rest_s), "after-work")
    assert written is not None and written.d is None
    assert written.said == (
        f"d measured alone, not taken from the code (time.sleep at main.py:9): the rest of one request took "
        f"{rest_s * 1000:.1f} ms in the diagnosis, over 2% of d"
    )


def test_work_after_the_answer_is_never_taken_from_the_code() -> None:
    assert as_written(own(0.001), "at-once") is None
