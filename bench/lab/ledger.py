"""Reading the ledger the servers write: when did each unit of work really finish?

Each line of ``ledger.jsonl`` is one finished unit of work (see ``servers.work``),
appended by whichever process and thread did it. The reader follows the file as it
grows and tolerates a half-written last line.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WorkRecord:
    token: str
    start: float | None  # wall-clock seconds (time.time()) in the server process; None: not known
    end: float
    pid: int | None
    thread: str | None


class _Follower:
    """Follows one file another process appends to: each read returns the complete lines
    added since the last (a half-written last line waits for the next read) and when the
    file was last modified."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def new_lines(self) -> tuple[list[bytes], float]:
        try:
            with self.path.open("rb") as f:
                modified = os.fstat(f.fileno()).st_mtime
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return [], 0.0
        self._offset += len(chunk)
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        return [line for line in complete if line.strip()], modified


class LedgerReader(_Follower):
    """The lab's ledger: one JSON record per finished unit of work, with its own timestamps."""

    max_poll_s = 0.05  # every record carries its own time: reading late loses nothing

    def read_new(self) -> list[WorkRecord]:
        records = []
        for line in self.new_lines()[0]:
            raw = json.loads(line)
            records.append(
                WorkRecord(
                    token=raw["token"],
                    start=float(raw["start"]),
                    end=float(raw["end"]),
                    pid=int(raw["pid"]),
                    thread=str(raw["thread"]),
                )
            )
        return records


class MarkerReader:
    """An own app's done marker: the lines of a file it writes (the tutorial's
    ``notification.log``) that contain a token, in a pattern like ``sent to {token}``.

    It follows the file's content, not only its appended bytes: an app that opens its log
    with mode ``"w"`` (FastAPI's documentation example does) rewrites it for every unit of
    work, and each token's line counts when it appears. A file that grew is read from where
    it was; one that changed otherwise is read whole again. A last line without a newline
    counts once it is the same in two reads (that example writes none).

    The app writes no timestamps, so a line's time is when the file was last modified as
    the line was read: the end of the work, within one poll (every 5 ms). That time is taken
    after the read, never before it: a line written between the two would have had the time
    of the write before it (seen once, on a busy machine: a tab's work done 2 ms before it was
    sent, given the time of the line of d measured alone just before).
    """

    # A rewritten file keeps only its last line: it is read often enough to see each one
    # (tabs 30 ms apart at time scale 0.1), and the time of a line is the read's.
    max_poll_s = 0.005

    def __init__(self, path: Path, pattern: str, is_token: Callable[[str], bool]) -> None:
        self.path = path
        before, _, after = pattern.partition("{token}")
        self._regex = re.compile(re.escape(before) + r"(?P<token>[A-Za-z0-9_.~-]+)" + re.escape(after))
        self._is_token = is_token
        self._seen = b""  # the complete lines of the content read last (read whole each poll: a log is small)
        self._tail = b""  # what followed the last newline then

    def _new_lines(self) -> tuple[list[bytes], float]:
        try:
            with self.path.open("rb") as f:
                content = f.read()
                modified = os.fstat(f.fileno()).st_mtime  # after: every line read was written by then
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return [], 0.0
        complete = content[: content.rfind(b"\n") + 1]  # a half-written last line waits for the next read,
        tail = content[len(complete) :]
        if tail and tail == self._tail:  # unless it is still the same then: a line written without "\n"
            complete = content
        self._tail = tail
        fresh = complete[len(self._seen) :] if complete.startswith(self._seen) else complete  # grew, or rewritten
        self._seen = complete
        return [line for line in fresh.split(b"\n") if line.strip()], modified

    def read_new(self) -> list[WorkRecord]:
        lines, modified = self._new_lines()
        at = min(modified, time.time())
        records = []
        for line in lines:
            for m in self._regex.finditer(line.decode(errors="replace")):
                if self._is_token(m["token"]):
                    records.append(WorkRecord(token=m["token"], start=None, end=at, pid=None, thread=None))
                    break
        return records


class LedgerWatcher:
    """Keeps every record seen so far, by token, and tells a listener about new ones.

    A token may be done several times (the tutorial's tabs all on ``/push/1``): each
    record is kept, in the order the work finished.
    """

    def __init__(
        self, reader: LedgerReader | MarkerReader, on_record: Callable[[WorkRecord], None] | None = None
    ) -> None:
        self.reader = reader
        self.found: dict[str, list[WorkRecord]] = {}
        self._on_record = on_record

    def poll(self) -> None:
        for record in self.reader.read_new():
            self.found.setdefault(record.token, []).append(record)
            if self._on_record is not None:
                self._on_record(record)

    async def follow(self, poll_s: float = 0.05) -> None:
        """Poll until cancelled (runs beside the load, for the live view)."""
        poll_s = min(poll_s, self.reader.max_poll_s)
        while True:
            self.poll()
            await asyncio.sleep(poll_s)

    async def wait_for(self, tokens: Collection[str], timeout_s: float, poll_s: float = 0.02) -> bool:
        """Wait until every token is done or ``timeout_s`` passes; True if all are done.

        A token still missing afterwards is lost work.
        """
        deadline = time.monotonic() + timeout_s
        poll_s = min(poll_s, self.reader.max_poll_s)
        wanted = Counter(tokens)
        while True:
            self.poll()
            if all(len(self.found.get(t, ())) >= n for t, n in wanted.items()):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(poll_s)
