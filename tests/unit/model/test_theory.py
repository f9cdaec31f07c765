from __future__ import annotations

import pytest

from bench.model.scenario import Variant
from bench.model.theory import expected, schedule


def variant(slots: int | str, answers: str = "after-work", workers: int = 1) -> Variant:
    return Variant.model_validate(
        {
            "name": "v",
            "title": "t",
            "app": "m:app",
            "work_slots": slots,
            "answers": answers,
            "workers": workers,
        }
    )


def test_one_slot_serialises_in_arrival_order() -> None:
    assert schedule([0, 0.3, 0.6, 0.9], 10, 1) == [10, 20, 30, 40]


def test_two_slots_split_the_work() -> None:
    assert schedule([0, 0.3, 0.6, 0.9], 10, 2) == pytest.approx([10, 10.3, 20, 20.3])


def test_enough_slots_or_unbounded_run_everything_at_once() -> None:
    assert schedule([0, 0, 0], 1, None) == [1, 1, 1]
    assert schedule([0, 0, 0], 1, 40) == [1, 1, 1]


def test_thread_limit_makes_waves() -> None:
    done = schedule([0.0] * 100, 1, 40)
    assert sorted(set(done)) == [1, 2, 3]
    assert done.count(3) == 20


def test_late_arrival_after_idle_slot_starts_at_arrival() -> None:
    assert schedule([0, 5], 1, 1) == [1, 6]


def test_results_follow_input_order_even_when_unsorted() -> None:
    assert schedule([0.9, 0.0], 10, 1) == pytest.approx([20, 10])


def test_expected_for_the_tutorial_variants() -> None:
    sync = expected(variant(1), clients=4, gap_s=0.03, work_s=1.0)
    assert sync.all_done_s == pytest.approx(4.0)
    assert sync.responded_s == sync.done_s

    workers = expected(variant(1, workers=2), clients=4, gap_s=0.0, work_s=1.0)
    assert workers.all_done_s == pytest.approx(2.0)

    background = expected(variant("threads", "at-once"), clients=4, gap_s=0.03, work_s=1.0)
    assert background.all_done_s == pytest.approx(1.09)
    assert background.responded_s == pytest.approx([0, 0.03, 0.06, 0.09])
    assert "answers at once" in background.model


def test_thread_limits_and_the_default_executor() -> None:
    from bench.model.machine import Machine, default_executor_threads
    from bench.model.theory import slots_per_worker

    assert slots_per_worker(variant("threads")) == 40
    raised = Variant.model_validate(
        {"name": "v", "title": "t", "app": "m:app", "work_slots": "threads", "answers": "at-once", "thread_limit": 100}
    )
    assert slots_per_worker(raised) == 100
    here = Machine(cpu_count=2, cpus_usable=2)
    assert slots_per_worker(variant("executor"), here) == default_executor_threads(here.cpu_count)
    assert expected(variant("threads"), clients=100, gap_s=0, work_s=1.0).all_done_s == pytest.approx(3.0)
    assert expected(raised, clients=100, gap_s=0, work_s=1.0).all_done_s == pytest.approx(1.0)


@pytest.mark.parametrize(("cpus", "threads"), [(1, 5), (2, 6), (28, 32), (64, 32), (None, 5)])
def test_the_default_executor_is_min_32_cpus_plus_4(cpus: int | None, threads: int) -> None:
    from bench.model.machine import default_executor_threads

    assert default_executor_threads(cpus) == threads


def test_the_accept_model_of_several_workers() -> None:
    from bench.model.theory import accept_model

    tabs = [0.0, 0.3, 0.6, 0.9]
    assert accept_model(tabs, 1.0, 2) == pytest.approx([1.0, 1.3, 2.0, 3.0])  # 3 + 1: the measured split
    assert accept_model(tabs, 1.0, 4) == pytest.approx([1.0, 1.3, 1.6, 1.9])  # an idle worker for each
    assert accept_model(tabs, 1.0, 1) == pytest.approx([1.0, 2.0, 3.0, 4.0])
    assert accept_model([0.0, 2.0], 1.0, 2) == pytest.approx([1.0, 3.0])  # the first worker is idle again


def test_workers_racing_for_simultaneous_requests_give_a_range_and_the_claim_checks_it() -> None:
    from bench.model.claims import check
    from bench.model.document import Summary
    from bench.model.scenario import Claim

    workers = Variant.model_validate(
        {"name": "w", "title": "t", "app": "m:app", "workers": 2, "work_slots": 1, "answers": "after-work"}
    )
    staggered = expected(workers, clients=4, gap_s=0.3, work_s=1.0)
    assert staggered.all_done_s == pytest.approx(3.0) and staggered.all_done_range_s is None
    burst = expected(workers, clients=4, gap_s=0.0, work_s=1.0)
    assert burst.all_done_range_s == pytest.approx([2.0, 4.0]) and "racing" in burst.model
    # tabs 6 ms apart (four-tabs at scale 0.02): the workers come back 6 ms apart, and race all the same
    close = expected(workers, clients=4, gap_s=0.006, work_s=0.2)
    assert close.all_done_range_s == pytest.approx([0.406, 0.8]) and "within 20 ms" in close.model
    assert expected(workers, clients=4, gap_s=0.03, work_s=1.0).all_done_range_s is None  # scale 0.1: 3 + 1
    claim = Claim(id="m", variant="w", says="s", measure="all_done_s", approx=1, unit="theory", why="w")
    fields = {k: None for k, f in Summary.model_fields.items() if f.is_required()}
    for measured, holds in ((2.0, True), (4.0, True), (3.1, True), (1.5, False), (5.0, False)):
        summary = Summary.model_validate(
            {
                **fields,
                "requests": 4,
                "ok": 4,
                "lost": 0,
                "errors": 0,
                "errors_by_kind": {},
                "pids": {},
                "all_done_s": measured,
            }
        )
        assert check(claim, summary, 1.0, expected=burst).holds is holds, measured
