"""bench tour: the lessons in order, each a saved run, and one course page that links them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.lab.catalog import default_scenarios_path, load_catalog
from bench.model.tour import LESSONS, verdict
from bench.report.course import render
from tests.factories import run_document


def test_every_lesson_is_a_scenario_and_its_variants_exist() -> None:
    catalog = load_catalog(default_scenarios_path())
    assert [lesson.scenario for lesson in LESSONS][:2] == ["four-tabs", "four-tabs-burst"]
    for lesson in LESSONS:
        catalog.pick_variants(catalog.scenario(lesson.scenario), lesson.variants or None)  # raises if not


def test_the_verdict_and_the_course_page() -> None:
    doc = run_document()
    v = verdict(doc)
    assert v.claims == 2 and v.held + len(v.not_held) == 2
    assert v.prediction.startswith("all done: sync 4.00 s")
    html = render("The course", [(LESSONS[0], doc, None), (LESSONS[-1], None, "skipped: no Chromium")], 0.1)
    assert "four-tabs/report.html" in html and "skipped: no Chromium" in html and "<script" not in html
    assert LESSONS[0].question in html and "Prediction" in html and "Verdict" in html


def test_an_unknown_lesson_is_one_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "tour", "--lessons", "nope", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and out.stderr.startswith("error: no lesson 'nope'; the lessons: four-tabs")


def test_the_lessons_whose_variants_all_race_race_each_other_unless_d_is_too_short() -> None:
    from bench.lab.plan import RunPlan
    from bench.lab.tour import races

    catalog = load_catalog(default_scenarios_path())
    waiting = ["four-tabs", "four-tabs-burst", "to-thread"]
    for scale, expected in ((1.0, waiting), (0.1, waiting), (0.02, [])):  # d = 0.2 s: too short to race
        racing = []
        for lesson in LESSONS:
            scenario = catalog.scenario(lesson.scenario)
            plan = RunPlan.of(scenario, scale, default_scenarios_path().parent)
            if races(plan, catalog.pick_variants(scenario, lesson.variants or None)):
                racing.append(lesson.scenario)
        assert racing == expected, scale


def test_a_lessons_events_carry_its_name_when_lessons_race() -> None:
    from bench.model.events import AttemptStarted, Events, LoadHappened, RunStarted, prefixed

    seen: list[object] = []
    lesson = prefixed(Events().subscribe(seen.append), "to-thread: ")
    lesson.emit(RunStarted("to-thread", ("threadpool", "to-thread")))  # the tour said it for all at once
    lesson.scoped("threadpool").emit(AttemptStarted("threadpool", "a def endpoint", 12, 1.0))
    lesson.scoped("threadpool").emit(LoadHappened("sent", 0, 1.5))
    assert seen == [
        AttemptStarted("to-thread: threadpool", "a def endpoint", 12, 1.0),
        LoadHappened("sent", 0, 1.5, attempt="to-thread: threadpool"),
    ]
