"""Files the lab did not make: each is one line of error (or left alone), never a traceback, a
hang or a gigabyte of memory; and what the lab itself writes survives a place that fails."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from bench import results
from bench.cli import console
from bench.engine import owners
from bench.errors import BenchError, RunFailed
from bench.lab import leftovers, stall
from bench.lab.catalog import default_scenarios_path, load_catalog
from bench.model.claims import check
from bench.model.document import RequestRecord
from bench.model.metrics import summarise
from bench.model.scenario import Claim
from bench.model.scenarios_file import parse_catalog
from bench.report.live import one_line
from tests.factories import run_document, variant_result

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (LAUGHS, "once its aliases are expanded"),  # 9**9 values from 600 bytes
        ("[" * 20_000 + "]" * 20_000, "nested too deeply"),
        ("a: &a [*a]\n", "nested more than"),  # an alias that contains itself
        ('variants:\n  x: !!int "abc"\n', ":2: 'abc' is not a valid int"),
        ('variants:\n  x: !!float "x"\n', ":2: 'x' is not a valid float"),
        ('variants:\n  x: !!timestamp "garbage"\n', ":2: 'garbage' is not a valid timestamp"),
        ("variants:\n  x: !!python/name:os.system ''\n", "not a valid"),  # never imported, never run
        ("\x7fELF\x00\x00binary", "binary data"),
    ],
)
def test_a_hostile_scenarios_text_is_one_line_at_once(text: str, said: str) -> None:
    started = time.monotonic()
    with pytest.raises(BenchError) as caught:
        parse_catalog(text, "s.yaml")
    assert said in str(caught.value) and "\n" not in str(caught.value)
    assert time.monotonic() - started < 10  # a blow-up takes hours; 2.2 s seen for 40,000 brackets on a busy machine


@pytest.mark.parametrize("content", [b"\xff\xfe\x00variants", Path("/bin/true").read_bytes()[:4096]])
def test_a_scenarios_file_that_is_not_text_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(content)
    with pytest.raises(BenchError, match="not a scenarios file"):
        load_catalog(path)


def _with_title(title: str) -> str:
    text = default_scenarios_path().read_text()
    return text.replace('"async def calling the blocking work inline (tutorial step 1)"', json.dumps(title), 1)


def test_control_characters_in_a_title_are_refused_with_their_line() -> None:
    with pytest.raises(BenchError) as caught:
        parse_catalog(_with_title("\x1b[31mred\x1b]0;title\x07"), "s.yaml")
    assert "s.yaml:18: variants.sync.title: control character '\\x1b'" in str(caught.value)


def test_markup_in_a_title_is_printed_as_it_is_written(capsys: pytest.CaptureFixture[str]) -> None:
    catalog = parse_catalog(_with_title("[/bold] [link=file:///etc]x[/link]"), "s.yaml")
    out = console.console()
    out.print(catalog.variants["sync"].title)
    assert "[/bold] [link=file:///etc]x[/link]" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"[]", "a JSON list, not an object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"run_id": "\xff\xfe"}', "not UTF-8"),
        (b"{", "not JSON"),
    ],
)
def test_a_broken_run_document_is_one_line(tmp_path: Path, content: bytes, said: str) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / results.RUN_FILE).write_bytes(content)
    with pytest.raises(BenchError) as caught:
        results.load(tmp_path / "r")
    assert said in str(caught.value) and "\n" not in str(caught.value)
    assert leftovers.clean_up(tmp_path) == []  # and the clean-up every command starts with leaves it alone


def test_a_dead_tours_lesson_is_marked_abandoned_with_its_page(tmp_path: Path) -> None:
    doc = run_document()
    doc.status, doc.owner = "running", "1:1"  # pid 1's start time is never 1 tick: a dead harness
    lesson = tmp_path / "20260101-000000-tour" / "four-tabs"
    results.save(doc, lesson)
    console.clean_up(tmp_path)
    assert results.load(lesson).status == "abandoned"  # type: ignore[union-attr]
    assert "abandoned" in (lesson / "report.html").read_text()


def test_a_stale_registry_file_is_removed() -> None:
    stale = owners.registry() / "1-1.pids"
    stale.write_text("999999999 1\n")
    leftovers.clean_up(Path("/nonexistent"))
    assert not stale.exists()


def test_a_save_that_fails_is_kept_to_be_said_and_cleared_by_the_next_good_one(tmp_path: Path) -> None:
    doc = run_document()
    (tmp_path / "a-file").write_text("")
    nowhere = tmp_path / "a-file" / doc.run_id  # under a file: nothing can be written there, even by root
    results.save(doc, nowhere)
    assert "could not save" in (results.unsaved(nowhere) or "")
    assert console.saved_line(nowhere).startswith("not saved: could not save")
    with pytest.raises(RunFailed, match="the figures printed are all there is"):
        console.check_saved(nowhere)
    (tmp_path / "a-file").unlink()
    results.save(doc, nowhere)
    assert results.unsaved(nowhere) is None and results.load(nowhere) == doc


@pytest.mark.parametrize("target", ["/dev/full", "/nonexistent/folder/x.md"])
def test_export_to_a_place_that_cannot_take_it_is_one_line(target: str) -> None:
    with pytest.raises(BenchError, match=f"cannot write {target}: "):
        results.write_file(Path(target), "text\n")


def _failed(n_ok: int, n_failed: int) -> list[RequestRecord]:
    return [
        RequestRecord(
            client=i, token=f"t{i}", sent_s=0, first_byte_s=None, responded_s=1 + i, done_s=2 + i, status=200, pid=1
        )
        for i in range(n_ok)
    ] + [
        RequestRecord(
            client=n_ok + i,
            token=f"f{i}",
            sent_s=0,
            first_byte_s=None,
            responded_s=None,
            done_s=None,
            status=None,
            pid=None,
            error="timeout",
        )
        for i in range(n_failed)
    ]


def test_failed_requests_never_leave_all_done() -> None:
    summary = summarise(_failed(2, 2))
    claim = Claim(id="1", variant="sync", says="Serial.", measure="all_done_s", approx=2, why="Blocked.")
    result = check(claim, summary, work_s=1.5)
    assert not result.holds and result.measured_text == "2 of 4 requests failed"
    v = variant_result("sync", [1.0, 2.0])
    v.summary = summary
    line = one_line(v, "sync").plain
    assert line.startswith("✗ sync: 2 of 4 requests failed (timeout)") and "all responded" not in line


def test_a_harness_that_stood_still_is_noticed() -> None:
    async def stand_still() -> stall.Stalls:
        async with stall.watching() as stalls:
            await asyncio.sleep(0.1)
            time.sleep(stall.STALL_S + 0.1)  # the loop does not run: as if the process were stopped
            await asyncio.sleep(0.1)
        return stalls

    async def busy() -> stall.Stalls:
        async with stall.watching() as stalls:
            await asyncio.sleep(0.3)
        return stalls

    assert asyncio.run(stand_still()).disturbed
    assert not asyncio.run(busy()).disturbed
