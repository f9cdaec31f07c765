"""``bench tour``: the lessons in teaching order, each measured, then one course page linking them."""

from __future__ import annotations

from pathlib import Path

import click

from bench import results
from bench.cli import console, status
from bench.cli.options import results_option, scenarios_option, time_scale_option
from bench.errors import BenchError
from bench.lab.session import new_run_id
from bench.lab.tour import Stop, take_tour
from bench.model.document import RunDocument
from bench.model.events import Event, LessonStarted
from bench.model.tour import LESSONS, Lesson
from bench.model.tour import verdict as tour_verdict
from bench.report import course
from bench.report.live import Board


@click.command("tour")
@time_scale_option
@click.option("--lessons", "only", default=None, help="Comma-separated subset of the lessons (scenario names).")
@results_option
@scenarios_option
def command(time_scale: float, only: str | None, out_dir: Path, scenarios_file: Path | None) -> None:
    """The lessons in teaching order, each measured, then one course page linking their reports."""
    console.clean_up(out_dir)
    catalog = console.catalog(scenarios_file)
    lessons = LESSONS
    if only is not None:
        wanted = [n.strip() for n in only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in {lesson.scenario for lesson in LESSONS}]
        if unknown or not wanted:
            what = f"no lesson {unknown[0]!r}" if unknown else "--lessons names no lesson"
            raise BenchError(f"{what}; the lessons: {', '.join(x.scenario for x in LESSONS)}")
        lessons = tuple(lesson for lesson in LESSONS if lesson.scenario in wanted)
    folder = results.prepare_folder(out_dir / new_run_id("tour"))
    err = console.err_console()

    def announce(event: Event) -> None:
        if isinstance(event, LessonStarted):
            err.print(f"[{event.number}/{event.total}] {event.lesson.scenario}: {event.lesson.question}", style="bold")

    board = Board("", [])  # the lesson being measured: one live view over the whole tour
    events = console.events_with_pages().subscribe(announce).subscribe(board.on_event)
    stops: list[Stop] = []
    try:
        with console.live(board, err, transient=True):
            take_tour(catalog, time_scale, folder, console.catalog_dir(catalog), events, lessons, stops)
    except KeyboardInterrupt:
        page = _course(stops, lessons, folder, time_scale)
        raise status.Ended(
            status.INTERRUPTED, f"interrupted: servers stopped; finished lessons kept in {folder}; course page: {page}"
        ) from None
    page = _course(stops, lessons, folder, time_scale)
    out = console.console()
    for s in stops:
        if s.doc is None:
            out.print(f"- {s.lesson.scenario}: {s.skipped}", style="yellow")
            continue
        v = tour_verdict(s.doc)
        mark = "✓" if v.held == v.claims else "✗"
        out.print(f"{mark} {s.lesson.scenario}: {v.held} of {v.claims} of the lab's claims hold")
        out.print(f"    predicted {v.prediction}\n    measured  {v.measurement}", style="dim")
        for finding in v.findings:
            out.print(f"    finding: the tutorial's claim {finding}", style="yellow")
    out.print(f"\ncourse page: {page}")
    if any(s.doc is not None and any(v.status == "failed" for v in s.doc.variants) for s in stops):
        raise status.Ended(status.FAILED)


def _course(stops: list[Stop], lessons: tuple[Lesson, ...], folder: Path, time_scale: float) -> Path:
    """The course page, in teaching order: every lesson that ended, those interrupted (what they
    saved), those not reached (lessons that race run first, so an interrupted tour may have ended
    later lessons and not earlier ones)."""
    ended = {s.lesson: (s.lesson, s.doc, s.skipped) for s in stops}
    shown: list[tuple[Lesson, RunDocument | None, str | None]] = []
    for lesson in lessons:
        if lesson in ended:
            shown.append(ended[lesson])
            continue
        try:
            doc = (
                results.load(folder / lesson.scenario)
                if (folder / lesson.scenario / results.RUN_FILE).is_file()
                else None
            )
        except BenchError:
            doc = None
        saved = doc if isinstance(doc, RunDocument) else None
        shown.append((lesson, saved, None if saved else "not reached: the tour was interrupted"))
    return course.write(course.render("The concurrency lab: the course", shown, time_scale), folder)
