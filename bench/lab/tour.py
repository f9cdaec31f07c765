"""``bench tour``: the lessons in teaching order, each a run of its own, under one folder.

A lesson whose tool is missing (Chromium for the browser lesson, a redis-server for the
Celery ones) is skipped with one line saying how to get it; the others run. Every
lesson's run is saved as any run is (run.json, report.html), so ``bench show`` works on
it; ``bench.report.course`` then writes the page that links them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.engine import loops
from bench.engine.browser import find_chromium
from bench.errors import BenchError
from bench.lab.broker import redis_binary
from bench.lab.plan import RunPlan
from bench.lab.session import run_scenario
from bench.model.document import RunDocument
from bench.model.events import Events, LessonStarted, no_events
from bench.model.scenario import Catalog
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


async def run_tour(
    catalog: Catalog,
    time_scale: float,
    folder: Path,
    app_dir: Path,
    events: Events | None = None,
    lessons: tuple[Lesson, ...] = LESSONS,
    stops: list[Stop] | None = None,
) -> list[Stop]:
    """Each lesson in turn: ``LessonStarted``, then its run's events (a skipped lesson has none).
    Each lesson that ended is added to ``stops`` as it ends: an interrupted tour keeps them."""
    events = events or no_events()
    stops = [] if stops is None else stops
    for number, lesson in enumerate(lessons, 1):
        events.emit(LessonStarted(number, len(lessons), lesson))
        why_not = missing_tool(lesson, catalog)
        if why_not is not None:
            stops.append(Stop(lesson, None, f"skipped: {why_not}"))
            continue
        scenario = catalog.scenario(lesson.scenario)
        variants = catalog.pick_variants(scenario, lesson.variants or None)
        plan = RunPlan.of(scenario, time_scale, app_dir)
        doc = await run_scenario(plan, variants, folder / lesson.scenario, events)
        stops.append(Stop(lesson, doc))
    return stops
