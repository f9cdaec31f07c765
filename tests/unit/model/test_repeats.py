"""Repeated runs and comparisons, on documents built in memory: statistics, warnings, the
t-test, the verdicts and the gate of --fail-if-slower."""

from __future__ import annotations

import io
import json
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from bench.model import repeats
from bench.model.document import LoadDocument
from bench.model.load import Latency, LoadFigures
from bench.model.welch import regularized_beta, student_two_sided, welch_p
from bench.report import compare
from bench.report.html import render
from bench.report.terminal import build_run
from tests.factories import repeated_result, run_document, variant_result


def text_of(renderable: object, width: int = 140) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_every_figure_gets_mean_stdev_min_max_over_the_runs() -> None:
    v = repeated_result("sync", [4.0, 4.2, 3.8])
    done = v.stats["all_done_s"]
    assert done.n == 3 and done.mean == pytest.approx(4.0) and done.min == 3.8 and done.max == 4.2
    assert done.stdev == pytest.approx(statistics.stdev([4.0, 4.2, 3.8]))
    assert v.summary is not None and v.summary.all_done_s == 4.0  # the median run stands for the others
    assert {"response_p50_s", "lost", "errors", "parallelism"} <= set(v.stats)


@pytest.mark.parametrize(
    ("values", "far"),
    [
        ([1.0, 1.01, 0.99, 1.0, 1.6], [4]),  # one run far off
        ([1.0, 1.002, 0.998, 1.001, 1.004], []),  # a millisecond wobble is not an outlier
        ([1.0, 1.0, 1.0, 1.0, 1.3], [4]),  # most runs identical (MAD = 0)
        ([1.0, 2.0], []),  # too few to tell
    ],
)
def test_outliers(values: list[float], far: list[int]) -> None:
    assert repeats.outliers(values) == far


def test_a_slow_first_run_is_called_a_cold_start() -> None:
    assert repeats.cold_start([1.5, 1.0, 1.01, 0.99], "all_done_s")
    assert not repeats.cold_start([1.0, 1.5, 1.01, 0.99], "all_done_s")
    assert repeats.cold_start([50.0, 100.0, 101.0, 99.0], "throughput_rps")  # fewer req/s is slower
    summaries = [variant_result("x", [t]).summary for t in (1.5, 1.0, 1.01, 0.99)]
    said = repeats.warnings("sync", [s for s in summaries if s is not None], warmups=0)
    assert len(said) == 1 and "first run" in said[0] and "--warmup 1" in said[0]


def test_student_t_matches_the_tables() -> None:
    # two-sided 5 % critical values of Student's t (any statistics table)
    for t, df in ((12.706, 1), (2.571, 5), (2.228, 10), (2.042, 30), (1.960, 1e7)):
        assert student_two_sided(t, df) == pytest.approx(0.05, abs=2e-4)
    assert student_two_sided(0.0, 4) == 1.0
    assert regularized_beta(0.0, 2, 3) == 0.0 and regularized_beta(1.0, 2, 3) == 1.0
    assert regularized_beta(0.5, 2, 2) == pytest.approx(0.5)  # symmetric


samples = st.lists(st.floats(min_value=0.1, max_value=10, allow_nan=False), min_size=2, max_size=8)


@given(samples, samples)
def test_welch_p_is_a_symmetric_probability(a: list[float], b: list[float]) -> None:
    p = welch_p(a, b)
    assert 0.0 <= p <= 1.0 and math.isclose(p, welch_p(b, a), abs_tol=1e-9)


def test_welch_p_falls_as_the_means_move_apart() -> None:
    base = [1.0, 1.1, 0.9, 1.05, 0.95]
    ps = [welch_p(base, [x + shift for x in base]) for shift in (0.0, 0.05, 0.1, 0.3)]
    assert ps[0] == 1.0 and ps == sorted(ps, reverse=True) and ps[-1] < 0.001


def test_same_code_twice_is_no_change_and_another_strategy_is_changed() -> None:
    a = run_document("A", variants=[repeated_result("sync", [2.00, 2.01, 1.99, 2.0, 2.02])])
    again = run_document("B", variants=[repeated_result("sync", [2.01, 2.0, 2.0, 1.99, 2.01])])
    other = run_document("C", variants=[repeated_result("asyncio", [0.55, 0.54, 0.55, 0.56, 0.55])])
    (same, changed) = compare.compare_all([a, again, other])
    assert {r.verdict for r in same.rows} == {compare.NO_CHANGE}
    done = next(r for r in changed.rows if r.figure == "all done")
    assert done.variant == "sync → asyncio" and done.verdict == compare.CHANGED and done.p_value is not None
    assert done.p_value < 0.001 and done.slower_pct is None  # faster, not slower
    back = next(r for r in compare.compare(other, a).rows if r.figure == "all done")
    assert back.slower_pct == pytest.approx((2.004 / 0.55 - 1) * 100, rel=0.01)
    assert compare.slowdowns([compare.compare(other, a)], 50) and not compare.slowdowns([changed], 0)


def test_a_significant_but_tiny_change_is_no_change() -> None:
    # a 1 % shift with almost no spread: Welch says "significant", the noise floor says "does not matter"
    a = run_document("A", variants=[repeated_result("sync", [2.000, 2.001, 2.000])])
    b = run_document("B", variants=[repeated_result("sync", [2.020, 2.021, 2.020])])
    row = next(r for r in compare.compare(a, b).rows if r.figure == "all done")
    assert row.p_value is not None and row.p_value < 0.05 and row.verdict == compare.NO_CHANGE


def test_compare_formats() -> None:
    a = run_document("A", variants=[repeated_result("sync", [2.0, 2.01, 1.99])])
    b = run_document("B", variants=[repeated_result("sync", [4.0, 4.02, 3.98])])
    found = compare.compare_all([a, b])
    table = text_of(compare.build_table([a, b], found))
    assert "2.000±0.010" in table and "changed, 100% slower" in table and "Welch" in table
    markdown = compare.to_markdown([a, b], found)
    assert "| sync | all done | 2.000±0.010 | 4.000±0.020 | 2.00× | changed, 100% slower" in markdown
    doc = json.loads(compare.to_json([a, b], found, 10.0))
    assert doc["baseline"] == "A" and doc["comparisons"][0]["run"] == "B"
    assert {"variant": "sync", "figure": "all done"} in [
        {k: x[k] for k in ("variant", "figure")} for x in doc["slower"]
    ]


def load_document(run_id: str, rps: float, p99_ms: float) -> LoadDocument:
    base = run_document()
    latency = Latency(
        min_ms=0.1, mean_ms=1, stdev_ms=0.1, p50_ms=1, p90_ms=2, p99_ms=p99_ms, p99_9_ms=p99_ms, max_ms=p99_ms
    )
    figures = LoadFigures(
        url="http://127.0.0.1:1/x",
        pattern="closed",
        client="raw",
        loop="asyncio",
        connections=8,
        duration_s=1,
        requests=int(rps),
        requests_per_s=rps,
        statuses={"200": int(rps)},
        errors={},
        dropped=0,
        latency=latency,
        client_queue=None,
        histogram=[],
    )
    return LoadDocument(
        run_id=run_id,
        created=base.created,
        status="complete",
        command="bench load",
        environment=base.environment,
        figures=figures,
    )


def test_loads_compare_and_a_load_against_a_run_is_said() -> None:
    a, b = load_document("L1", 1000, 5.0), load_document("L2", 500, 5.0)
    rows = {r.figure: r for r in compare.compare(a, b).rows}
    assert rows["req/s"].verdict == compare.CHANGED and rows["req/s"].slower_pct == pytest.approx(100)
    assert rows["latency p99"].verdict == compare.NO_CHANGE
    mixed = compare.compare(a, run_document())
    assert not mixed.rows and any("nothing to compare" in n for n in mixed.notes)


def test_repeated_runs_show_plus_minus_in_the_terminal_and_the_html() -> None:
    doc = run_document("R", variants=[repeated_result("sync", [4.0, 4.2, 3.8]), variant_result("once", [1.0])])
    text = text_of(build_run(doc))
    assert "mean±σ over 3 runs" in text and "4.000±0.200" in text
    runs_table = text[text.index("Over the runs") :]
    assert "3.800 … 4.200" in runs_table and "4.000  4.200  3.800" in runs_table
    page = render(doc)
    assert "4.000±0.200" in page and "Over the runs" in page and "3.800 … 4.200" in page


def test_tables_too_wide_for_the_terminal_are_laid_out_narrow() -> None:
    doc = run_document()
    wide, narrow = text_of(build_run(doc), 160), text_of(build_run(doc), 60)
    assert "tab 4 (sent" in wide and "tab 4 (sent" not in narrow
    per_tab = narrow[narrow.index("Per tab") :]
    assert "theory" in per_tab and max(len(line) for line in per_tab.splitlines()[:20]) <= 60


def test_combined_runs_check_the_claims_on_the_means_and_count_each_run() -> None:
    from pathlib import Path

    from bench.lab.catalog import default_scenarios_path, load_catalog
    from bench.lab.plan import RunPlan
    from bench.lab.runner import combine_runs

    catalog = load_catalog(default_scenarios_path())
    scenario = catalog.scenario("four-tabs")
    plan = RunPlan.of(scenario, 0.1, Path("."))  # d = 1 s
    serial = next(c for c in scenario.claims if c.id == "1b")  # all done ≈ 4 d (±15 %)
    runs = [variant_result("sync", [t / 4 * k for k in range(1, 5)], claim=serial) for t in (4.0, 4.1, 5.0)]
    assert [r.claims[0].holds for r in runs] == [True, True, False]  # 5.0 is beyond 4.6
    combined = combine_runs(plan, catalog.variants["sync"], runs, warmups=1)
    assert len(combined.runs) == 3 and combined.warmups == 1 and combined.stats["all_done_s"].n == 3
    assert combined.summary is not None and combined.summary.all_done_s == 4.1  # the median run
    (claim,) = [c for c in combined.claims if c.id == "1b"]
    assert claim.holds and claim.measured == pytest.approx(13.1 / 3) and (claim.held_runs, claim.runs) == (2, 3)
