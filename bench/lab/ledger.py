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


class MarkerReader(_Follower):
    """An own app's done marker: the lines of a file it appends to (the tutorial's
    ``notification.log``) that contain a token, in a pattern like ``sent to {token}``.

    The app writes no timestamps, so a line's time is when the file was last modified as
    the line was read: the end of the work, within one poll of ``LedgerWatcher`` (every
    50 ms during the load, every 20 ms while waiting for the work afterwards).
    """

    def __init__(self, path: Path, pattern: str, is_token: Callable[[str], bool]) -> None:
        super().__init__(path)
        before, _, after = pattern.partition("{token}")
        self._regex = re.compile(re.escape(before) + r"(?P<token>[A-Za-z0-9_.~-]+)" + re.escape(after))
        self._is_token = is_token

    def read_new(self) -> list[WorkRecord]:
        lines, modified = self.new_lines()
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
        while True:
            self.poll()
            await asyncio.sleep(poll_s)

    async def wait_for(self, tokens: Collection[str], timeout_s: float, poll_s: float = 0.02) -> bool:
        """Wait until every token is done or ``timeout_s`` passes; True if all are done.

        A token still missing afterwards is lost work.
        """
        deadline = time.monotonic() + timeout_s
        wanted = Counter(tokens)
        while True:
            self.poll()
            if all(len(self.found.get(t, ())) >= n for t, n in wanted.items()):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(poll_s)
