"""``bench tour``: the lessons in teaching order, each a run of its own, under one folder.

A lesson whose tool is missing (Chromium for the browser lesson, a redis-server for the
Celery ones) is skipped with one line saying how to get it; the others run. Every
lesson's run is saved as any run is (run.json, report.html), so ``bench show`` works on
it; ``bench.report.course`` then writes the page that links them all.

The lessons whose variants all race (``bench.model.racing``: their work only waits, a few
requests each) race each other too: they run at once, first, each on servers of its own;
the others follow one by one, in teaching order. The stops come back in teaching order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from bench.engine import loops
from bench.engine.browser import find_chromium
from bench.errors import BenchError
from bench.lab import teardown
from bench.lab.broker import redis_binary
from bench.lab.plan import RunPlan
from bench.lab.session import run_scenario
from bench.model import racing
from bench.model.document import RunDocument
from bench.model.events import Events, LessonStarted, RunStarted, no_events, prefixed
from bench.model.scenario import Catalog, Variant
from bench.model.tour import LESSONS, Lesson


@dataclass(frozen=True)
class Stop:
    """A lesson as the tour ended it: its run, or why it was skipped."""

    lesson: Lesson
    doc: RunDocument | None
    skipped: str | None = None


def missing_tool(lesson: Lesson, catalog: Catalog) -> str | None:
    """Why the lesson cannot run here, with how to fix it; None when it can."""
    try:
        if lesson.needs == "chromium":
            find_chromium()
        variants = catalog.pick_variants(catalog.scenario(lesson.scenario), lesson.variants or None)
        if any(v.celery is not None for v in variants):
            redis_binary()
    except BenchError as exc:
        return str(exc)
    return None


def take_tour(
    catalog: Catalog,
    time_scale: float,
    folder: Path,
    app_dir: Path,
    events: Events | None = None,
    lessons: tuple[Lesson, ...] = LESSONS,
    stops: list[Stop] | None = None,
) -> list[Stop]:
    """``run_tour`` on the engine's event loop, for a command."""
    return loops.run(run_tour(catalog, time_scale, folder, app_dir, events, lessons, stops))


LessonRun = tuple[RunPlan, tuple[Variant, ...]]


def _lesson_run(lesson: Lesson, catalog: Catalog, time_scale: float, app_dir: Path) -> LessonRun:
    scenario = catalog.scenario(lesson.scenario)
    return RunPlan.of(scenario, time_scale, app_dir), catalog.pick_variants(scenario, lesson.variants or None)


def races(plan: RunPlan, variants: tuple[Variant, ...]) -> bool:
    """Whether a lesson may run at once with others: all its variants race (two at least),
    none of them a Celery worker's, and one URL mode (no browser)."""
    if len(variants) < 2 or any(v.celery is not None for v in variants) or len(plan.url_modes()) != 1:
        return False
    order = racing.schedule(list(variants), plan.scenario, plan.client, False, plan.one_at_a_time, plan.work_s)
    return order.batches == (tuple(range(len(variants))),)


async def run_tour(
    catalog: Catalog,
    time_scale: float,
    folder: Path,
    app_dir: Path,
    events: Events | None = None,
    lessons: tuple[Lesson, ...] = LESSONS,
    stops: list[Stop] | None = None,
) -> list[Stop]:
    """The lessons that race at once, then the others in turn: ``LessonStarted``, then its run's
    events (a skipped lesson has none). Each lesson that ended is added to ``stops`` as it ends: an
    interrupted tour keeps them; at the end they are put in teaching order."""
    events = events or no_events()
    stops = [] if stops is None else stops
    runs = {lesson: _lesson_run(lesson, catalog, time_scale, app_dir) for lesson in lessons}
    together = [lesson for lesson in lessons if missing_tool(lesson, catalog) is None and races(*runs[lesson])]
    if len(together) < 2:
        together = []

    async def one(lesson: Lesson, lesson_events: Events) -> None:
        plan, variants = runs[lesson]
        stops.append(Stop(lesson, await run_scenario(plan, variants, folder / lesson.scenario, lesson_events)))

    async with teardown.deferred():  # a lesson's last servers stop while the next lesson starts
        if together:
            for lesson in together:
                events.emit(LessonStarted(lessons.index(lesson) + 1, len(lessons), lesson))
            attempts = tuple(f"{lesson.scenario}: {v.name}" for lesson in together for v in runs[lesson][1])
            events.emit(RunStarted(" + ".join(lesson.scenario for lesson in together), attempts))
            await asyncio.gather(*(one(lesson, prefixed(events, f"{lesson.scenario}: ")) for lesson in together))
        for number, lesson in enumerate(lessons, 1):
            if lesson in together:
                continue
            events.emit(LessonStarted(number, len(lessons), lesson))
            why_not = missing_tool(lesson, catalog)
            if why_not is not None:
                stops.append(Stop(lesson, None, f"skipped: {why_not}"))
                continue
            await one(lesson, events)
    stops.sort(key=lambda stop: lessons.index(stop.lesson))
    return stops
