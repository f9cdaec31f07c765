from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from bench.lab.ledger import LedgerReader, LedgerWatcher, MarkerReader


def line(token: str, end: float = 2.0) -> bytes:
    return (json.dumps({"token": token, "start": 1.0, "end": end, "pid": 5, "thread": "T"}) + "\n").encode()


def test_reader_returns_only_new_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    reader = LedgerReader(path)
    assert reader.read_new() == []  # no file yet
    path.write_bytes(line("a") + line("b")[:10])  # a half-written second line
    assert [r.token for r in reader.read_new()] == ["a"]
    with path.open("ab") as f:
        f.write(line("b")[10:] + line("c"))
    assert [r.token for r in reader.read_new()] == ["b", "c"]
    assert reader.read_new() == []


def test_watcher_waits_for_tokens_and_gives_up_at_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    seen: list[str] = []
    watcher = LedgerWatcher(LedgerReader(path), lambda r: seen.append(r.token))

    async def scenario() -> tuple[bool, bool]:
        async def write_later() -> None:
            await asyncio.sleep(0.05)
            path.write_bytes(line("a") + line("b"))

        writer = asyncio.create_task(write_later())
        all_done = await watcher.wait_for(["a", "b"], timeout_s=5)
        await writer
        missing = await watcher.wait_for(["a", "never"], timeout_s=0.1)
        return all_done, missing

    all_done, missing = asyncio.run(scenario())
    assert all_done and not missing
    assert seen == ["a", "b"] and set(watcher.found) == {"a", "b"}


def test_a_done_marker_rewritten_in_place_counts_each_tokens_line(tmp_path: Path) -> None:
    """FastAPI's documentation example opens its log with mode "w" and writes no newline."""
    path = tmp_path / "log.txt"
    marker = MarkerReader(path, "{token}", lambda token: token.startswith("tab"))
    path.write_text("notification for tab1-x: some notification")
    assert marker.read_new() == []  # a line without a newline may still be being written
    assert [r.token for r in marker.read_new()] == ["tab1-x"]  # the same in two reads: it is whole
    assert marker.read_new() == []  # and counted once
    path.write_text("notification for tab2-x: some notification")  # rewritten, same length
    marker.read_new()
    assert [r.token for r in marker.read_new()] == ["tab2-x"]
    with path.open("a") as f:  # an app that appends, with newlines
        f.write("\nnotification for tab3-x\nnotification for tab4-x\n")
    assert [r.token for r in marker.read_new()] == ["tab3-x", "tab4-x"]
    assert marker.read_new() == []


def test_a_line_written_as_the_marker_is_read_is_never_timed_before_it_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "notification.log"
    log.write_text("sent to a\n")
    long_ago = time.time() - 10
    os.utime(log, (long_ago, long_ago))  # d's line, measured alone before the load
    reader = MarkerReader(log, "sent to {token}", lambda token: True)
    assert [r.end for r in reader.read_new()] == [pytest.approx(long_ago)]
    real_fstat, written = os.fstat, []

    def a_line_lands(fd: int) -> os.stat_result:  # right after the file's time is taken: a tab's line
        result = real_fstat(fd)
        if not written:
            with log.open("a") as f:
                f.write("sent to b\n")
            written.append(time.time())
        return result

    monkeypatch.setattr(os, "fstat", a_line_lands)
    (b,) = reader.read_new() + reader.read_new()
    assert b.token == "b" and b.end >= written[0] - 0.02  # the file system's clock ticks coarser than time.time()
