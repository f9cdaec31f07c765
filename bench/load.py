"""Firing the load and timestamping it; nothing here judges the figures.

The pattern of the core is the *burst*: N clients (the tabs), each on its own
connection, sending one request each, either all at the same instant (gap 0: the
connections are opened first and the requests leave together) or one after another
``gap_s`` apart, as a person reloads tabs. Times are wall-clock seconds
(``time.time()`` scale, taken from ``perf_counter`` for precision) so they line up
with the timestamps the servers write to the ledger.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.http import Connection, HttpError

PID_HEADER = "x-worker-pid"


class WallClock:
    """``time.perf_counter`` precision on the ``time.time`` scale of the servers' ledger."""

    def __init__(self) -> None:
        self._wall0 = time.time()
        self._perf0 = time.perf_counter()

    def wall(self, perf: float) -> float:
        return self._wall0 + (perf - self._perf0)

    def now(self) -> float:
        return self.wall(time.perf_counter())


@dataclass(frozen=True)
class Sample:
    """One request as the client saw it (wall-clock seconds)."""

    client: int
    token: str
    sent: float
    first_byte: float | None
    responded: float | None
    status: int | None
    pid: int | None
    error: str | None  # the error kind (connect, timeout, reset, closed, protocol)


Observer = Callable[[str, int, float], None]
"""Called with (event, client, wall time); events: 'sent', 'responded', 'failed'."""


async def burst(
    host: str,
    port: int,
    paths: Sequence[tuple[str, str]],
    gap_s: float,
    timeout_s: float,
    observe: Observer = lambda event, client, at: None,
) -> list[Sample]:
    """One request per client; ``paths`` holds (token, path) per client, in arrival order."""
    clock = WallClock()
    start = time.perf_counter()
    go = asyncio.Event()
    connected = 0

    async def one(client: int, token: str, path: str) -> Sample:
        nonlocal connected
        conn: Connection | None = None
        if gap_s > 0:
            await asyncio.sleep(max(0.0, start + client * gap_s - time.perf_counter()))
        sent = clock.now()
        try:
            conn = await Connection.open(host, port, timeout_s)
            if gap_s == 0:
                connected += 1
                if connected == len(paths):
                    go.set()
                await go.wait()
                sent = clock.now()
            observe("sent", client, sent)
            response = await conn.get(path, timeout_s)
        except HttpError as exc:
            if gap_s == 0 and not go.is_set():
                go.set()  # do not hold the others back when one cannot connect
            failed = clock.now()
            observe("failed", client, failed)
            return Sample(client, token, sent, None, None, None, None, exc.kind)
        finally:
            if conn is not None:
                conn.close()
        responded = clock.wall(response.done)
        observe("responded", client, responded)
        pid = response.headers.get(PID_HEADER)
        return Sample(
            client,
            token,
            clock.wall(response.sent),
            clock.wall(response.first_byte),
            responded,
            response.status,
            int(pid) if pid and pid.isdigit() else None,
            None,
        )

    return list(await asyncio.gather(*(one(i, token, path) for i, (token, path) in enumerate(paths))))
