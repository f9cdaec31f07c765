"""The model of what holds the loop: the watchdog's holds summed, the kinds of work and their fixes, the verdicts."""

from __future__ import annotations

import pytest

from bench.model.claims import check
from bench.model.holds import summarise
from bench.model.ownapp import Diagnosis, blocking_sentences, fixes_for, infer, predictions
from bench.model.ownapp_calls import FoundCall
from bench.model.scenario import Claim
from bench.model.tour import verdict
from bench.report.live import one_line
from tests.factories import run_document, variant_result


def place(line: int, seconds: float, cpu: float, function: str = "crunch") -> dict[str, object]:
    return {
        "file": "/l/app.py",
        "line": line,
        "function": function,
        "chain": ["push", function],
        "text": f"line {line}",
        "seconds": seconds,
        "cpu_seconds": cpu,
        "times": 1,
    }


def test_holds_are_summed_per_line_for_waits_and_per_function_for_cpu_work() -> None:
    holds = [
        {"at": 1.0, "seconds": 1.0, "places": [place(9, 0.6, 0.59), place(8, 0.4, 0.39)]},  # one CPU loop, two lines
        {"at": 2.0, "seconds": 1.0, "places": [place(9, 0.5, 0.5), place(8, 0.5, 0.5)]},
        {"at": 3.0, "seconds": 0.5, "places": [place(20, 0.5, 0.0, function="send")]},  # a wait
    ]
    cpu, wait = summarise(holds, requests=2)
    assert (cpu.kind, cpu.line, cpu.times) == ("CPU on the loop", 9, 2) and cpu.seconds == pytest.approx(2.0)
    assert cpu.per_request_s == pytest.approx(1.0) and cpu.per_hold_s == pytest.approx(1.0)
    assert (wait.kind, wait.line, wait.times) == ("blocking call", 20, 1)
    assert "held the loop 2 times, 1.00 s each, 1.00 s per request at app.py:9" in cpu.sentence()


def call(kind: str, seconds: float | None = 1.0, **extra: object) -> FoundCall:
    fields: dict[str, object] = {
        "call": "x",
        "file": "a.py",
        "line": 9,
        "via": [],
        "blocks_loop": kind in ("cpu-loop", "blocking", "sleep"),
        "seconds": seconds,
        "kind": kind,
        "held_s": seconds if kind in ("cpu-loop", "blocking", "sleep") else None,
        **extra,
    }
    return FoundCall.model_validate(fields)


@pytest.mark.parametrize(
    ("calls", "slots", "cpu_bound"),
    [
        ([call("cpu-loop")], 1, True),
        ([call("cpu-threads", pool="anyio")], 1, True),  # the GIL: one at a time
        ([call("process", pool="process", pool_size=8)], 2, True),  # capped by the 2 usable cores
        ([call("thread-wait", pool="default executor", pool_size=6)], 6, False),
        ([call("thread-wait", pool="default executor")], 12, False),  # no size seen: min(32, 8 + 4)
        ([call("thread-wait", pool="anyio")], "threads", False),
        ([call("blocking", seconds=0.00002)], "unbounded", False),  # a negligible write is not the model
    ],
)
def test_the_strategy_follows_the_kind_of_work(calls: list[FoundCall], slots: object, cpu_bound: bool) -> None:
    cpus = 8 if calls[0].pool == "default executor" else 2
    strategy = infer(Diagnosis(app="a.py:app", path="/x", calls=calls, cpus=cpus))
    assert (strategy.work_slots, strategy.cpu_bound) == (slots, cpu_bound)


def test_cpu_work_gets_fixes_that_help_cpu_work() -> None:
    strategy = infer(Diagnosis(app="a.py:app", path="/x", calls=[call("cpu-loop")], cpus=2))
    labels = [label for label, _, _ in fixes_for(strategy, 2)]
    assert not any("asyncio.sleep" in label for label in labels)  # awaiting does not make CPU work wait
    rows = predictions(strategy, 1.0, 4, 0.0, cpus=2)
    assert [round(r.all_done_s, 6) for r in rows] == [4.0, 4.0, 2.0, 4.0, 2.0]


def test_a_negligible_call_is_said_once_with_its_time() -> None:
    ((sentence, blocks),) = blocking_sentences("async def f (a.py:3)", [call("blocking", seconds=0.00002)])
    assert not blocks and sentence.endswith("holds the event loop 20 µs per request: negligible")


def test_a_summary_line_is_a_cross_when_the_labs_claims_fail() -> None:
    claim = Claim(id="c", variant="sync", says="s", measure="all_done_s", approx=1, why="w")
    failing = variant_result("sync", [4.0], claim=claim)
    assert not failing.claims[0].holds
    assert str(one_line(failing, "sync")).startswith("✗ sync")
    tutorial = claim.model_copy(update={"tutorial": True})
    finding = variant_result("sync", [4.0, 4.0], claim=tutorial)
    finding.claims.append(check(claim.model_copy(update={"approx": 4}), finding.summary, 1.0, ""))
    line = str(one_line(finding, "sync"))
    assert line.startswith("✓ sync") and "the tutorial's c does not hold (a finding)" in line


def test_the_tour_marks_a_lesson_by_the_labs_claims_and_lists_the_tutorials_as_findings() -> None:
    doc = run_document()
    for variant in doc.variants:
        variant.claims = [
            c.model_copy(update={"tutorial": True, "holds": False}) for c in variant.claims
        ] + variant.claims
    lesson = verdict(doc)
    assert lesson.claims == len([c for c in doc.claims() if not c.tutorial])
    assert lesson.findings and all("measured" in f for f in lesson.findings)
