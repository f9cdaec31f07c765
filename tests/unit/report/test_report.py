from __future__ import annotations

import csv
import io
import json

from rich.console import Console

from bench.report.compare import build_table, compare_all
from bench.report.export import FORMATS
from bench.report.terminal import build_run
from tests.factories import run_document, variant_result


def render(renderable: object, width: int = 140) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


def test_run_report_has_every_table() -> None:
    text = render(build_run(run_document()))
    for part in ("Response time", "Work (s)", "Per tab", "Timeline", "claims, checked", "theory behind"):
        assert part in text
    for name in ("sync", "multi-worker", "background"):
        assert name in text
    assert "1 of 2 claims hold" in text
    assert "✓" in text and "✗" in text
    assert "They raced." in text  # the finding of a claim that did not hold


def test_pid_split_is_shown_for_several_workers() -> None:
    doc = run_document(
        variants=[variant_result("multi-worker", [1.0, 2.0, 1.0, 2.0], workers=2, pids=[11, 11, 12, 12])]
    )
    assert "2 on pid 11, 2 on pid 12" in render(build_run(doc))
    doc = run_document(variants=[variant_result("multi-worker", [1.0, 2.0, 3.0, 4.0], workers=2, pids=[11] * 4)])
    assert "4 on pid 11, 0 on the other 1 worker" in render(build_run(doc))


def test_timeline_marks_waiting_and_background_work() -> None:
    text = render(build_run(run_document()))
    rows = text[text.index("Timeline") :].splitlines()[2:]  # the bars, below the legend and the heading
    sync = [row for row in rows if " sync " in row or row.startswith("  ")][:4]
    background = next(row for row in rows if row.lstrip().startswith("background"))
    assert all("━" in row and "╌" not in row and row.rstrip().endswith("●") for row in sync)  # waits for its work
    assert "━╌" in background and background.rstrip().endswith("●")  # answered at once, the work runs after


def test_failed_variant_is_reported_with_its_error() -> None:
    doc = run_document()
    failed = doc.variants[0].model_copy(
        update={
            "status": "failed",
            "summary": None,
            "error": "boom: last lines",
            "requests": [],
            "claims": [],
        }
    )
    doc.variants.append(failed.model_copy(update={"name": "broken"}))
    text = render(build_run(doc))
    assert "broken did not run: boom: last lines" in text


def test_compare_shows_both_runs_and_the_ratio() -> None:
    a = run_document("A-run")
    b = run_document("B-run", variants=[variant_result("sync", [2.0, 4.0, 6.0, 8.0])])
    text = render(build_table([a, b], compare_all([a, b])))
    assert "A-run" in text and "B-run" in text
    assert "2.00×" in text  # all done doubled
    assert "multi-worker" not in text  # measured in A only: nothing to set beside it


def test_exports() -> None:
    doc = run_document()
    assert json.loads(FORMATS["json"](doc))["run_id"] == doc.run_id
    rows = list(csv.DictReader(io.StringIO(FORMATS["csv"](doc))))
    assert len(rows) == 12 and rows[0]["variant"] == "sync" and float(rows[3]["done_s"]) == 4.0
    md = FORMATS["markdown"](doc)
    assert md.startswith("# four-tabs")
    assert "| sync |" in md and "| ✗ | 2 | multi-worker |" in md


def test_live_board_shows_each_tab_and_keeps_ticking() -> None:
    import time

    from bench.report.live import Board, VariantProgress

    board = Board("four-tabs", ["sync", "background"])
    progress = VariantProgress("sync", "blocking", clients=4, expected_done_s=4.0)
    board.racing["sync"] = progress
    now = time.time()
    progress.on_load("sent", 0, now - 2.0)
    progress.on_load("responded", 0, now - 1.0)
    progress.on_done(0, now - 1.0)
    progress.on_load("sent", 1, now - 1.9)
    progress.on_load("failed", 3, now)
    text = render(board, width=120)
    assert "variant 1 of 2" in text and "▶ sync" in text
    assert "done" in text and "1.00 s" in text  # tab 1 answered and done 1 s after the first request
    assert "waiting 1.9 s" in text  # tab 2 still waiting, with its clock
    assert "not sent yet" in text and "failed" in text
    time.sleep(0.15)
    assert "waiting 2.0 s" in render(board, width=120) or "waiting 2.1 s" in render(board, width=120)


def test_the_tour_board_names_every_lesson_racing_and_then_each_one_alone() -> None:
    from bench.model.events import LessonStarted, RunStarted
    from bench.model.tour import LESSONS
    from bench.report.live import Board

    board = Board("", [])
    for number in (1, 2):  # the lessons whose variants all race: started together
        board.on_event(LessonStarted(number, 8, LESSONS[number - 1]))
    board.on_event(RunStarted("four-tabs + four-tabs-burst", ("four-tabs: sync", "four-tabs-burst: sync")))
    assert "bench run four-tabs + four-tabs-burst, lessons 1, 2 of 8 at once: variant 0 of 2" in render(board)
    board.on_event(LessonStarted(5, 8, LESSONS[4]))  # then one after another
    board.on_event(RunStarted("cpu-bound", ("threadpool",)))
    assert "bench run cpu-bound, lesson 5 of 8: variant 0 of 1" in render(board)


def test_compare_tells_a_change_from_noise() -> None:
    a = run_document("A-run")
    b = run_document("B-run", variants=[variant_result("sync", [2.0, 4.0, 6.0, 8.0])])
    same = run_document("C-run", variants=[variant_result("sync", [1.0, 2.0, 3.0, 4.02])])
    row = next(line for line in render(build_table([a, b], compare_all([a, b]))).splitlines() if "all done" in line)
    assert "changed" in row  # all done doubled
    row = next(
        line for line in render(build_table([a, same], compare_all([a, same]))).splitlines() if "all done" in line
    )
    assert "no change" in row  # 0.5 % is below the noise floor


def test_the_timeline_marks_where_theory_says_the_work_is_done() -> None:
    from bench.report.terminal import _bar

    plain = _bar(0.0, 1.0, 1.0, False, 4.0, 41, theory=1.0).plain
    assert "◇" not in plain and plain.endswith("●")  # on time: nothing to mark
    late = _bar(0.0, 3.0, 3.0, False, 4.0, 41, theory=2.0).plain
    assert late.index("◇") == 20 and late.index("●") == 30  # theory said 2 s, it took 3 s
    early = _bar(0.0, 1.0, 1.0, False, 4.0, 41, theory=3.0).plain
    assert early.index("●") == 10 and early.index("◇") == 30


def test_html_ticks_are_round() -> None:
    from bench.report.html import round_step, timeline_svg

    assert [round_step(s) for s in (0.09, 1.0, 4.02, 15.9, 40.0)] == [0.01, 0.1, 0.5, 2.0, 5.0]
    svg = timeline_svg(variant_result("sync", [1.0, 2.0, 3.0, 4.0]), 4.02)
    assert ">0 s<" in svg and ">0.5 s<" in svg and ">4 s<" in svg and "theory: done at" in svg
