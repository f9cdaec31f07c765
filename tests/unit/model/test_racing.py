"""Which variants race and which run alone: the fairness of running at once."""

from __future__ import annotations

from bench.lab.catalog import default_scenarios_path, load_catalog
from bench.model.ownapp_calls import FoundCall
from bench.model.racing import schedule
from bench.model.scenario import OwnApp, Variant

CATALOG = load_catalog(default_scenarios_path())


def units(name: str) -> list[Variant]:
    scenario = CATALOG.scenario(name)
    return list(CATALOG.pick_variants(scenario, None))


def test_four_tabs_races_every_variant_at_a_long_enough_d() -> None:
    found = schedule(units("four-tabs"), CATALOG.scenario("four-tabs"), "raw", False, False, 1.0)
    assert found.batches == ((0, 1, 2, 3, 4, 5),) and found.why.startswith("raced at once")
    assert "sync, multi-worker" in found.why


def test_what_must_run_alone_does() -> None:
    tabs = CATALOG.scenario("four-tabs")
    assert schedule(units("four-tabs"), tabs, "raw", False, True, 1.0).why == "one at a time (--one-at-a-time)"
    assert "too short" in schedule(units("four-tabs"), tabs, "raw", False, False, 0.2).why
    assert "browser" in schedule(units("four-tabs"), tabs, "browser", False, False, 1.0).why
    alone = (("cpu-bound", "CPU"), ("thread-limit", "loads the harness"), ("worker-crash", "stops processes"))
    for name, words in alone:
        scenario = CATALOG.scenario(name)
        found = schedule(units(name), scenario, "raw", False, False, 1.0)
        assert all(len(b) == 1 for b in found.batches) and words in found.why, (name, found.why)


def test_an_own_app_with_cpu_work_runs_alone_beside_racing_ones() -> None:
    cpu = FoundCall(call="CPU work", file="a.py", line=3, via=[], blocks_loop=True, kind="cpu-loop", seconds=1.0)
    waits = OwnApp(spec="w.py:app", seconds_written=1.0)
    apps = [
        Variant(name="a", title="a", app="a.py:app", own=OwnApp(spec="a.py:app", diagnosis=(cpu,))),
        Variant(name="b", title="b", app="w.py:app", own=waits),
        Variant(name="c", title="c", app="w.py:app", own=waits),
    ]
    found = schedule(apps, CATALOG.scenario("four-tabs"), "raw", False, False, 1.0)
    assert found.batches == ((1, 2), (0,)) and "alone" in found.why and found.why.endswith(": a")


def test_celery_variants_race_each_other_and_never_a_web_only_variant() -> None:
    tabs = units("celery-tabs")  # background, celery, celery-2, celery-4: each worker on a broker of its own
    found = schedule(tabs, CATALOG.scenario("celery-tabs"), "raw", False, False, 1.0)
    assert found.batches == ((1, 2, 3), (0,)), found
    assert "celery, celery-2, celery-4 (Celery variants race only each other)" in found.why
    assert found.why.endswith(": background")
    shared = schedule(tabs, CATALOG.scenario("celery-tabs"), "raw", True, False, 1.0)  # --broker: one for all
    assert all(len(b) == 1 for b in shared.batches) and "share the broker" in shared.why


def test_web_servers_killed_in_the_restart_experiment_race_each_on_its_own_with_celery() -> None:
    restart = units("restart")  # background, asyncio-task, threadpool, celery-4: each kills only its own server
    found = schedule(restart, CATALOG.scenario("restart"), "raw", False, False, 1.0)
    assert found.batches == ((0, 1, 2, 3),), found  # what is lost counts there, not ms: Celery's too
