"""Firing the load and timestamping it; nothing here judges the figures.

Three patterns, each on any ``bench.engine.clients.Client``:

- ``burst``: N clients (the tabs), each on its own connection, one request each, either
  all at the same instant (gap 0: connections are opened first, then the requests leave
  together) or one after another ``gap_s`` apart, as a person reloads tabs.
- ``closed_loop``: N connections, each sending its next request as soon as the last one
  is answered, for a duration and/or a total (like wrk, hey). The server's slowness
  slows the senders down: that is *coordinated omission*, fine for throughput.
- ``open_loop``: requests *start* at a constant rate whatever the server does (like
  wrk2 -R, oha -q, k6's constant-arrival-rate), each on a free connection from a pool
  that grows as needed. Latency counts from the *intended* start, so a stalled server
  shows in every request scheduled during the stall; the time a request waited in the
  client before it could be written is kept apart (``queued_s``), and a request that
  found no connection and no room for another is *dropped* (k6's dropped iterations).

Times are wall-clock seconds (``time.time()`` scale, from ``perf_counter`` for precision)
so they line up with the timestamps the servers write to the ledger.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.engine.clients import Client, ClientConnection
from bench.engine.http import HttpError, Response
from bench.model.document import DROPPED
from bench.model.events import LoadObserver, no_load_observer


class WallClock:
    """``time.perf_counter`` precision on the ``time.time`` scale of the servers' ledger."""

    def __init__(self) -> None:
        self._wall0 = time.time()
        self._perf0 = time.perf_counter()

    def wall(self, perf: float) -> float:
        return self._wall0 + (perf - self._perf0)

    def now(self) -> float:
        return self.wall(time.perf_counter())


@dataclass(frozen=True, slots=True)
class Sample:
    """One request as the client saw it (wall-clock seconds)."""

    client: int
    token: str
    sent: float  # when it was written; in an open loop, when it was *meant* to start
    first_byte: float | None
    responded: float | None
    status: int | None
    pid: int | None
    error: str | None  # connect, timeout, reset, closed, protocol, or dropped
    queued_s: float | None = None  # open loop: intended start -> written

    @classmethod
    def failed(cls, client: int, token: str, sent: float, error: str) -> Sample:
        """A request that got no answer: ``error`` says why (connect, timeout, dropped, ...)."""
        return cls(
            client=client, token=token, sent=sent, first_byte=None, responded=None, status=None, pid=None, error=error
        )


Request = tuple[str, str]  # (token, path)


def _sample(
    clock: WallClock,
    client: int,
    token: str,
    response: Response,
    sent_perf: float | None = None,
    queued_s: float | None = None,
) -> Sample:
    return Sample(
        client=client,
        token=token,
        sent=clock.wall(response.sent if sent_perf is None else sent_perf),
        first_byte=clock.wall(response.first_byte),
        responded=clock.wall(response.done),
        status=response.status,
        pid=response.pid,
        error=None,
        queued_s=queued_s,
    )


async def burst(
    client: Client,
    requests: Sequence[Request],
    gap_s: float,
    timeout_s: float,
    observe: LoadObserver = no_load_observer,
) -> list[Sample]:
    """One request per client, in arrival order."""
    clock = WallClock()
    start: float | None = None  # when the first request's turn comes: the gaps count from there
    go = asyncio.Event()
    connected = 0

    async def one(index: int, token: str, path: str) -> Sample:
        nonlocal connected, start
        conn: ClientConnection | None = None
        if start is None:  # not when the burst was asked for: a busy loop (variants racing) may start it late
            start = time.perf_counter()
        delay = start + index * gap_s - time.perf_counter()
        if gap_s > 0 and delay > 0:  # never a sleep(0): on a busy loop it hands the turn away
            await asyncio.sleep(delay)
        sent = clock.now()
        try:
            conn = await client.connect(timeout_s)
            if gap_s == 0:
                connected += 1
                if connected == len(requests):
                    go.set()
                await go.wait()
                sent = clock.now()
            observe("sent", index, sent)
            response = await conn.send(path, timeout_s, token)
        except HttpError as exc:
            go.set()  # one that cannot connect must not hold the others back
            observe("failed", index, clock.now())
            return Sample.failed(index, token, sent, exc.kind)
        finally:
            if conn is not None:
                conn.close()
        sample = _sample(clock, index, token, response)
        observe("responded", index, sample.responded or 0.0)
        return sample

    return list(await asyncio.gather(*(one(i, token, path) for i, (token, path) in enumerate(requests))))


async def closed_loop(
    client: Client,
    next_request: Callable[[int], Request],
    connections: int,
    duration_s: float | None,
    total: int | None,
    timeout_s: float,
    observe: LoadObserver = no_load_observer,
    sink: Callable[[Sample], None] | None = None,
) -> list[Sample]:
    """``connections`` senders, each one request after another, until the duration or the total is reached.

    Every sample goes to ``sink`` when one is given (then the list returned is empty), so a
    long load need not keep them all."""
    if duration_s is None and total is None:
        raise ValueError("a closed loop needs a duration, a total, or both")
    clock = WallClock()
    deadline = None if duration_s is None else time.perf_counter() + duration_s
    samples: list[Sample] = []
    record = samples.append if sink is None else sink
    issued = 0

    def may_send() -> bool:
        return (total is None or issued < total) and (deadline is None or time.perf_counter() < deadline)

    async def sender() -> None:
        nonlocal issued
        conn: ClientConnection | None = None
        try:
            while may_send():
                index = issued
                issued += 1
                token, path = next_request(index)
                sent = clock.now()
                try:
                    if conn is None or not conn.usable:
                        conn = await client.connect(timeout_s)
                    observe("sent", index, sent)
                    response = await conn.send(path, timeout_s, token)
                except HttpError as exc:
                    conn = None
                    record(Sample.failed(index, token, sent, exc.kind))
                    observe("failed", index, clock.now())
                    continue
                sample = _sample(clock, index, token, response)
                record(sample)
                observe("responded", index, sample.responded or 0.0)
        finally:
            if conn is not None:
                conn.close()

    await asyncio.gather(*(sender() for _ in range(connections)))
    return samples


async def open_loop(
    client: Client,
    next_request: Callable[[int], Request],
    rate: float,
    duration_s: float | None,
    total: int | None,
    timeout_s: float,
    max_connections: int,
    observe: LoadObserver = no_load_observer,
    sink: Callable[[Sample], None] | None = None,
) -> list[Sample]:
    """Start request i at ``i / rate`` seconds, whatever the server does; see the module doc."""
    if rate <= 0:
        raise ValueError("the rate must be positive")
    if duration_s is None and total is None:
        raise ValueError("an open loop needs a duration, a total, or both")
    by_duration = None if duration_s is None else int(duration_s * rate)
    count = min(n for n in (total, by_duration) if n is not None)
    clock = WallClock()
    idle: deque[ClientConnection] = deque()
    opened = 0
    samples: list[Sample] = []
    record = samples.append if sink is None else sink
    start = time.perf_counter()

    async def fire(index: int, intended: float) -> None:
        nonlocal opened
        token, path = next_request(index)
        intended_wall = clock.wall(intended)
        conn = None
        while idle and conn is None:
            candidate = idle.pop()
            conn = candidate if candidate.usable else None
            if conn is None:
                opened -= 1
        try:
            if conn is None:
                if opened >= max_connections:
                    record(Sample.failed(index, token, intended_wall, DROPPED))
                    observe("failed", index, clock.now())
                    return
                opened += 1
                try:
                    conn = await client.connect(timeout_s)
                except HttpError:
                    opened -= 1
                    raise
            observe("sent", index, intended_wall)
            response = await conn.send(path, timeout_s, token)
        except HttpError as exc:
            if conn is not None:
                opened -= 1
                conn.close()
            record(Sample.failed(index, token, intended_wall, exc.kind))
            observe("failed", index, clock.now())
            return
        # A timer may wake a hair before the intended start: count from whichever came first.
        sample = _sample(
            clock,
            index,
            token,
            response,
            sent_perf=min(intended, response.sent),
            queued_s=max(0.0, response.sent - intended),
        )
        record(sample)
        observe("responded", index, sample.responded or 0.0)
        if conn.usable:
            idle.append(conn)
        else:
            opened -= 1

    in_flight: set[asyncio.Task[None]] = set()
    try:
        for index in range(count):
            intended = start + index / rate
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(fire(index, intended))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.gather(*in_flight)
    finally:
        for task in in_flight:
            task.cancel()
        while idle:
            idle.pop().close()
    return samples
