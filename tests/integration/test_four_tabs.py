"""The tutorial's experiment on real servers, at a small time scale, against theory.

Tolerances are for a busy 2-core machine: work can never finish before theory says
(lower bounds are tight), but it can be late (upper bounds are generous).
"""

from __future__ import annotations

import pytest

from bench.model.document import RunDocument, VariantResult
from tests.factories import run_named

TIME_SCALE = 0.1  # d = 1 s, tabs 0.03 s apart

# The accept race and the 10 ms answers: measured with nothing else running, with the cpu_timing
# tests at the end of the suite (a hold in the middle stopped every worker for some 10 s).
pytestmark = pytest.mark.alone


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, machine_alone: None) -> RunDocument:
    return run_named("four-tabs", TIME_SCALE, tmp_path_factory.mktemp("runs"))


def variant(run: RunDocument, name: str) -> VariantResult:
    result = next(v for v in run.variants if v.name == name)
    assert result.status == "ok", result.error
    assert result.summary is not None and result.expected is not None
    return result


D = 1.0
LAST_ARRIVAL = 3 * 0.03


@pytest.mark.integration
def test_every_variant_ran_without_errors_or_lost_work(run: RunDocument) -> None:
    assert run.status == "complete"
    assert [v.name for v in run.variants] == [
        "sync",
        "multi-worker",
        "background",
        "threadpool",
        "asyncio",
        "asyncio-task",
    ]
    for v in run.variants:
        s = variant(run, v.name).summary
        assert s is not None
        assert (s.requests, s.ok, s.errors, s.lost) == (4, 4, 0, 0), v.name


@pytest.mark.integration
def test_sync_serialises_the_tabs(run: RunDocument) -> None:
    s = variant(run, "sync").summary
    assert s is not None and s.all_done_s is not None and s.parallelism is not None
    assert 0.98 * 4 * D <= s.all_done_s <= 1.2 * 4 * D
    assert s.parallelism == pytest.approx(1.0, abs=0.1)
    done = sorted(r.done_s or 0 for r in variant(run, "sync").requests)
    for i, t in enumerate(done, start=1):  # 1 d, 2 d, 3 d, 4 d
        assert 0.98 * i * D <= t <= i * D + 0.25 * D


@pytest.mark.parametrize("name", ["threadpool", "asyncio", "asyncio-task", "background"])
@pytest.mark.integration
def test_parallel_strategies_finish_all_the_work_in_about_one_d(run: RunDocument, name: str) -> None:
    s = variant(run, name).summary
    assert s is not None and s.all_done_s is not None and s.parallelism is not None
    assert 0.98 * D <= s.all_done_s <= 1.35 * (D + LAST_ARRIVAL)
    assert s.parallelism > 2.5


@pytest.mark.parametrize("name", ["background", "asyncio-task"])
@pytest.mark.integration
def test_at_once_strategies_answer_in_a_small_fraction_of_d(run: RunDocument, name: str) -> None:
    s = variant(run, name).summary
    assert s is not None and s.response_max_s is not None and s.done_time_p50_s is not None
    assert s.response_max_s < 0.15 * D
    assert s.done_time_p50_s >= 0.98 * D  # the work itself still takes d


@pytest.mark.integration
def test_multi_worker_lands_between_two_and_four_d_and_records_the_split(run: RunDocument) -> None:
    v = variant(run, "multi-worker")
    s = v.summary
    assert s is not None and s.all_done_s is not None
    assert 0.98 * 2 * D <= s.all_done_s <= 1.2 * 4 * D
    assert sum(s.pids.values()) == 4 and 1 <= len(s.pids) <= 2
    assert {r.pid for r in v.requests} == {int(p) for p in s.pids}
    claim = next(c for c in v.claims if c.id == "2")
    if not claim.holds:  # a finding, not an error: the report must say why and show the split
        assert claim.note is not None and "Served by: " in claim.note
    model = next(c for c in v.claims if c.id == "2m")
    assert v.expected is not None and v.expected.all_done_s == pytest.approx(3 * D + 0.0, rel=0.02)
    if sorted(s.pids.values()) == [2, 2]:
        # The accept race went the other way: a worker slow to start its first request (the
        # racing variants share 2 cores) accepted two tabs 30 ms apart at once. The model's
        # 3 + 1 cannot hold then, and the run must say so: 2 d for 2 + 2, the split shown.
        assert s.all_done_s == pytest.approx(2 * D, rel=0.15)
        assert not model.holds and model.note is not None and "Served by: 2 on pid" in model.note
        return
    assert model.holds, model  # the accept model predicts what the tutorial's ideal split does not


@pytest.mark.integration
def test_the_tutorial_claims_of_the_single_process_variants_hold(run: RunDocument) -> None:
    held = {c.id: c.holds for c in run.claims()}
    assert set(held) == {"1a", "1b", "2", "2m", "3a", "3b", "3c"}
    assert held["1a"] and held["1b"] and held["3a"] and held["3b"] and held["3c"], run.claims()


@pytest.mark.integration
def test_work_records_come_from_the_process_and_thread_that_did_it(run: RunDocument) -> None:
    sync = variant(run, "sync")
    assert {r.work_thread for r in sync.requests} == {"MainThread"}  # on the event loop's thread
    background = variant(run, "background")
    assert all(r.work_thread != "MainThread" for r in background.requests)  # in the thread pool
    assert {r.work_pid for r in background.requests} == {r.pid for r in background.requests}


@pytest.mark.integration
def test_the_probes_see_the_blocked_event_loop(run: RunDocument) -> None:
    sync = variant(run, "sync").summary
    assert sync is not None and sync.loop_lag_max_s is not None
    assert sync.loop_lag_max_s > 0.5 * D  # a trivial async def request waited behind the blocking call
    for name in ("asyncio", "background", "threadpool"):
        s = variant(run, name).summary
        assert s is not None and s.loop_lag_max_s is not None
        assert s.loop_lag_max_s < 0.2 * D, name
