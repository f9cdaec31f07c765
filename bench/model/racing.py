"""Which variants of a run race each other, and which run alone: the fairness of running at once.

Variants whose work only waits (sleeps, an own app whose diagnosis found waiting work) do
not compete for anything a measurement depends on: each has its own server on its own
port, and a few requests each cost the harness next to nothing. They start together and
the load fires at all of them at the same instant, so a run lasts about as long as its
slowest variant. What needs the CPU (CPU-bound work, an own app that burns CPU, a Celery worker's
processes, which boot and poll their broker while the others answer in milliseconds), a load
heavy enough to load the harness itself (closed and open loops, a hundred requests, a
sweep), the browser, a disruption of a process, or a shared broker given by the user,
runs alone, one after another as before. Celery variants, each on a broker and a worker of its
own, race each other (their answers only publish a message), never the web-only variants, whose
answers in milliseconds their workers' boot would disturb; where each variant's own web server is
killed (restart), only what is lost counts, and all race. ``--one-at-a-time`` runs everything alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.model.scenario import Scenario, Variant

RACE_MAX_CLIENTS = 16  # a burst of more requests per variant runs alone (the thread-limit lesson's 100)
RACE_MIN_WORK_S = 0.5  # below this, the harness's few ms of jitter with six loads at once show in the figures
CPU_KINDS = ("cpu-loop", "cpu-threads", "process")


@dataclass(frozen=True)
class Schedule:
    batches: tuple[tuple[int, ...], ...]  # indexes of the units, each batch run at once
    why: str  # one line: what raced and why, or why nothing did


def scenario_may_race(scenario: Scenario, client: str, shared_broker: bool) -> str | None:
    """None when the scenario's variants may race; else why they run one at a time."""
    if scenario.work.kind != "sleep":
        return "the work burns CPU: variants would compete for the cores"
    if client == "browser":
        return "one browser loads one variant at a time"
    if scenario.load.pattern != "burst" or (scenario.load.clients or 0) > RACE_MAX_CLIENTS:
        return "a load this size loads the harness too: each variant gets it alone"
    if scenario.sweep:
        return "a sweep measures capacity: each step alone"
    # a web server killed (restart) is each variant's own; a Celery worker's processes are the run's
    stops_shared = scenario.disruption is not None and scenario.disruption.target != "web-server"
    if scenario.experiment != "load" or stops_shared:
        return "the experiment stops processes: one variant at a time"
    if shared_broker:
        return "the Celery variants share the broker given with --broker"
    return None


def variant_may_race(variant: Variant, work_s: float) -> bool:
    """An own app races when its diagnosis found waiting work only; the lab's when its work waits;
    either only when d is long enough (``work_s``: the scenario's d, scaled) for a few ms of the
    harness's jitter, six loads at once, not to show in its figures. (A Celery variant races only
    other Celery variants: ``schedule``.)"""
    if variant.own is None:
        return work_s >= RACE_MIN_WORK_S
    d = variant.own.seconds_written
    return (d is None or d >= RACE_MIN_WORK_S) and not any(c.kind in CPU_KINDS for c in variant.own.diagnosis)


def schedule(
    units: Sequence[Variant], scenario: Scenario, client: str, shared_broker: bool, one_at_a_time: bool, work_s: float
) -> Schedule:
    """The batches of a run, in the order of ``units`` (a unit: a variant in one URL mode)."""
    alone = tuple((i,) for i in range(len(units)))
    if one_at_a_time:
        return Schedule(alone, "one at a time (--one-at-a-time)")
    reason = scenario_may_race(scenario, client, shared_broker)
    if reason is not None:
        return Schedule(alone, f"one at a time: {reason}")
    may = [i for i, v in enumerate(units) if variant_may_race(v, work_s)]
    # a Celery worker's processes boot and poll: they would disturb a web-only variant's answers in ms
    web_only, celery = [i for i in may if units[i].celery is None], [i for i in may if units[i].celery]
    # killing web servers (restart) measures what is lost, not milliseconds: there all race together
    groups = [g for g in ((may,) if scenario.disruption else (web_only, celery)) if len(g) > 1]
    racing = [i for g in groups for i in g]
    solo = [i for i in range(len(units)) if i not in racing]
    if not racing:
        if len(units) < 2:
            return Schedule(alone, "one variant")
        short = work_s < RACE_MIN_WORK_S and all(v.own is None for v in units)
        why = f"d = {work_s:g} s is too short to race: the harness's jitter would show" if short else "CPU work, Celery"
        return Schedule(alone, f"one at a time: {why}")
    batches = (*(tuple(g) for g in groups), *((i,) for i in solo))
    names = "; then ".join(", ".join(dict.fromkeys(units[i].name for i in g)) for g in groups)
    why = f"raced at once (their work only waits, each on its own server): {names}"
    if len(groups) > 1 or (any(units[i].celery for i in racing) and not scenario.disruption):
        why += " (Celery variants race only each other)"
    if solo:
        alone_names = ", ".join(dict.fromkeys(units[i].name for i in solo))
        why += f"; alone (CPU work, a Celery worker beside web-only variants, or work too short): {alone_names}"
    return Schedule(batches, why)
