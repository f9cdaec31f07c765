from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.lab.catalog import default_scenarios_path, load_catalog
from bench.model.scenarios_file import parse_catalog


def test_the_project_scenarios_load() -> None:
    catalog = load_catalog(default_scenarios_path())
    assert {"four-tabs", "four-tabs-burst"} <= set(catalog.scenarios)
    four = catalog.scenario("four-tabs")
    assert four.load.clients == 4 and four.work.seconds == 10 and four.load.gap == pytest.approx(0.3)
    assert set(four.variants) == {
        "sync",
        "multi-worker",
        "background",
        "threadpool",
        "asyncio",
        "asyncio-task",
    }
    assert {c.id for c in four.claims} == {"1a", "1b", "2", "2m", "3a", "3b", "3c"}
    assert catalog.scenario("four-tabs-burst").load.gap == 0
    assert catalog.variants["multi-worker"].workers == 2
    assert catalog.variants["multi-worker"].app == catalog.variants["sync"].app


def test_objects_are_frozen() -> None:
    catalog = load_catalog(default_scenarios_path())
    with pytest.raises(ValueError):
        catalog.scenario("four-tabs").load.clients = 5


# (what to change in the project's scenarios.yaml, the line it should name, words in the message)
BAD = {
    "yaml syntax": (("variants:", "variants: [oops"), None, "not valid YAML"),
    "wrong type": (("clients: 4, gap: 0.3", "clients: four, gap: 0.3"), "load.clients", "valid integer"),
    "unknown field": (
        ("    answers: at-once\n  threadpool", "    answers: at-once\n    colour: red\n  threadpool"),
        "variants.background.colour",
        "unknown field",
    ),
    "missing field": (
        (
            "work: { kind: sleep, seconds: 10 }\n    load: { pattern: burst, clients: 4, gap: 0.3 }",
            "work: { kind: sleep }\n    load: { pattern: burst, clients: 4, gap: 0.3 }",
        ),
        "work.seconds",
        "required",
    ),
    "negative duration": (
        (
            "seconds: 10 }\n    load: { pattern: burst, clients: 4, gap: 0.3 }",
            "seconds: -1 }\n    load: { pattern: burst, clients: 4, gap: 0.3 }",
        ),
        "work.seconds",
        "greater than 0",
    ),
    "unknown variant in scenario": (
        (
            "variants: [sync, multi-worker, background, threadpool, asyncio, asyncio-task]\n    claims: &",
            "variants: [sync, nope]\n    claims: &",
        ),
        "four-tabs.variants[1]",
        "unknown variant 'nope'",
    ),
    "bad work slots": (
        ("work_slots: threads\n    answers: at-once", "work_slots: many\n    answers: at-once"),
        "variants.background.work_slots",
        "'executor' or 'unbounded'",
    ),
    "bad import string": (('"servers.sync:app"', '"servers sync"'), "variants.sync.app", "import string"),
    "duplicate key": (
        ("        variant: sync\n", "        variant: background\n        variant: sync\n"),
        "claims[0].variant",
        "duplicate key",
    ),
    "two comparisons": (("below: 0.05", "below: 0.05\n        approx: 1"), "claims[4]", "exactly one"),
    "unknown measure": (
        ("measure: all_done_s\n        approx: 4", "measure: speed\n        approx: 4"),
        "claims[1].measure",
        "'all_done_s'",
    ),
    "unknown pattern": (
        ("pattern: burst, clients: 4, gap: 0.3", "pattern: storm, clients: 4, gap: 0.3"),
        "load.pattern",
        "'burst'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenarios_name_the_line_and_field(case: str, scenarios_text: str) -> None:
    (old, new), field, words = BAD[case]
    assert old in scenarios_text, "the test's anchor text must exist"
    text = scenarios_text.replace(old, new, 1)
    with pytest.raises(BenchError) as err:
        parse_catalog(text, source="my.yaml")
    message = str(err.value)
    assert message.startswith("my.yaml:")
    line = int(message.split(":")[1])
    assert 1 <= line <= text.count("\n") + 1
    if field:
        assert field in message
    assert words in message
    assert "\n" not in message and "Traceback" not in message


def test_the_named_line_is_the_offending_one(scenarios_text: str) -> None:
    text = scenarios_text.replace("clients: 4, gap: 0.3", "clients: 0, gap: 0.3", 1)
    with pytest.raises(BenchError) as err:
        parse_catalog(text, source="s.yaml")
    line = int(str(err.value).split(":")[1])
    assert "clients: 0" in text.splitlines()[line - 1]


def test_a_claim_must_name_a_variant_of_its_scenario(scenarios_text: str) -> None:
    text = scenarios_text.replace(
        "variants: [sync, multi-worker, background, threadpool, asyncio, asyncio-task]\n    claims: &",
        "variants: [sync]\n    claims: &",
        1,
    )
    with pytest.raises(BenchError, match="claim 2 names 'multi-worker', which this scenario does not run"):
        parse_catalog(text, source="s.yaml")


@pytest.mark.parametrize("text", ["", "- a list\n", "variants: {}\nscenarios: {}\n", "other: 1\n"])
def test_empty_or_wrong_shape(text: str) -> None:
    with pytest.raises(BenchError):
        parse_catalog(text, source="s.yaml")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="cannot read"):
        load_catalog(tmp_path / "missing.yaml")


def test_unknown_scenario_and_variant_list_what_exists() -> None:
    catalog = load_catalog(default_scenarios_path())
    with pytest.raises(BenchError, match="known: four-tabs, four-tabs-burst"):
        catalog.scenario("five-tabs")
    with pytest.raises(BenchError, match=r"unknown variant 'nope'.*known: sync, multi-worker"):
        catalog.pick_variants(catalog.scenario("four-tabs"), ["sync", "nope"])
    picked = catalog.pick_variants(catalog.scenario("four-tabs"), ["background", "sync"])
    assert [v.name for v in picked] == ["sync", "background"]  # the scenario's order


@pytest.mark.parametrize(
    ("load", "words"),
    [
        ("{ pattern: closed, clients: 4 }", "needs 'duration', 'total' or both"),
        ("{ pattern: open, duration: 1 }", "needs 'rate'"),
        ("{ pattern: burst }", "needs 'clients'"),
        ("{ pattern: burst, clients: 2, rate: 3 }", "'rate' belongs to the open pattern"),
        ("{ pattern: open, rate: 5, duration: 1, gap: 0.1 }", "'gap' belongs to the burst pattern"),
        ("{ pattern: open, rate: -5, duration: 1 }", "greater than 0"),
    ],
)
def test_load_patterns_need_their_own_fields(scenarios_text: str, load: str, words: str) -> None:
    text = scenarios_text.replace("load: { pattern: burst, clients: 4, gap: 0.3 }", f"load: {load}", 1)
    with pytest.raises(BenchError, match=re.escape(words)):
        parse_catalog(text, source="s.yaml")


def test_scaled_plan_keeps_the_shape_of_an_open_loop() -> None:
    from bench.lab.plan import RunPlan

    catalog = load_catalog(default_scenarios_path())
    plan = RunPlan.of(catalog.scenario("steady-rate"), 0.1, Path("."))
    assert plan.work_s == pytest.approx(0.1)
    assert plan.duration_s == pytest.approx(1.0)
    assert plan.rate == pytest.approx(200.0)  # ten times the rate for a tenth of the time: same requests, same overlap
    assert plan.expected(catalog.variants["asyncio"]) is None  # theory is for bursts
