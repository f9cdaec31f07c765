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
  client before it could be written is kept apart (``queued_s``). A request that finds
  the pool full waits for a connection (nothing is omitted); one still waiting when a
  hard deadline ends the load is *dropped* (never sent, k6's dropped iterations).

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
from bench.model.document import CANCELLED, DROPPED
from bench.model.events import LoadObserver, no_load_observer


class WallClock:
    """``time.perf_counter`` precision on the ``time.time`` scale of the servers' ledger."""

    def __init__(self) -> None:
        self._wall0 = time.time()
        self._perf0 = time.perf_counter()
        self.offset = self._wall0 - self._perf0  # wall = perf + offset, for a hot path that cannot afford a call

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
    connect_s: float | None = None  # the TCP connect it waited for (None: a connection already open)

    @classmethod
    def failed(cls, client: int, token: str, sent: float, error: str) -> Sample:
        """A request that got no answer: ``error`` says why (connect, timeout, dropped, ...)."""
        return cls(
            client=client, token=token, sent=sent, first_byte=None, responded=None, status=None, pid=None, error=error
        )


Request = tuple[str, str]  # (token, path)


class SameRequest:
    """``next_request`` for a load that sends one path again and again, untokened (``bench load``):
    a loop that sees one may encode the request once."""

    __slots__ = ("path", "request")

    def __init__(self, path: str) -> None:
        self.path = path
        self.request: Request = ("", path)

    def __call__(self, index: int) -> Request:
        return self.request


def _sample(
    clock: WallClock,
    client: int,
    token: str,
    response: Response,
    sent_perf: float | None = None,
    queued_s: float | None = None,
    connect_s: float | None = None,
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
        connect_s=connect_s,
    )


async def burst(
    client: Client,
    requests: Sequence[Request],
    gap_s: float,
    timeout_s: float,
    observe: LoadObserver = no_load_observer,
) -> list[Sample]:
    """One request per client, in arrival order. A tab's times count from its turn, before it
    connects, as a browser's do: counted from the request written, a first tab whose connection
    took 0.11 s on a busy machine (the others' took none) moved the run's origin, and its all-done
    time came out 0.11 s short of the theory's arrivals (0, 0.15, 0.30, 0.45 s) for the same work."""
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
        turn = time.perf_counter()
        sent = clock.wall(turn)
        try:
            conn = await client.connect(timeout_s)
            if gap_s == 0:  # all at once: each connected first, then all sent together
                connected += 1
                if connected == len(requests):
                    go.set()
                await go.wait()
                turn = time.perf_counter()
                sent = clock.wall(turn)
            observe("sent", index, sent)
            response = await conn.send(path, timeout_s, token)
        except HttpError as exc:
            go.set()  # one that cannot connect must not hold the others back
            observe("failed", index, clock.now())
            return Sample.failed(index, token, sent, exc.kind)
        finally:
            if conn is not None:
                conn.close()
        sample = _sample(clock, index, token, response, sent_perf=turn)
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


def open_loop_count(rate: float, duration_s: float | None, total: int | None) -> int:
    """How many requests an open loop schedules: the total, or what the duration holds at the rate."""
    if rate <= 0:
        raise ValueError("the rate must be positive")
    if duration_s is None and total is None:
        raise ValueError("an open loop needs a duration, a total, or both")
    by_duration = None if duration_s is None else int(duration_s * rate)
    return min(n for n in (total, by_duration) if n is not None)


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
    hard_limits: bool = False,
) -> list[Sample]:
    """Start request i at ``i / rate`` seconds, whatever the server does; see the module doc.

    A request that finds every connection of the pool busy (``max_connections``) waits for
    one, first come first served, and its latency still counts from its intended start (the
    wait is its ``queued_s``): nothing is omitted, whatever the pool size. With
    ``hard_limits`` the duration ends the load at its deadline: what is in flight then is
    *cancelled*, what never got a connection is *dropped* (never sent), neither an error."""
    count = open_loop_count(rate, duration_s, total)
    clock = WallClock()
    loop = asyncio.get_running_loop()
    idle: deque[ClientConnection] = deque()
    waiting: deque[asyncio.Future[ClientConnection | None]] = deque()  # None: a slot is free, open one
    connect_times: dict[int, float] = {}  # a new connection's connect, for its first request
    opened = 0
    samples: list[Sample] = []
    record = samples.append if sink is None else sink
    start = time.perf_counter()

    def free_slot() -> None:
        nonlocal opened
        opened -= 1
        while waiting:
            waiter = waiting.popleft()
            if not waiter.done():
                opened += 1  # the slot goes to the first waiter, who opens it
                waiter.set_result(None)
                return

    def give_back(conn: ClientConnection) -> None:
        if not conn.usable:
            free_slot()
            return
        while waiting:
            waiter = waiting.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        idle.append(conn)

    async def acquire() -> ClientConnection:
        nonlocal opened
        while idle:
            conn = idle.pop()
            if conn.usable:
                return conn
            opened -= 1
        if opened < max_connections:
            opened += 1
        else:
            waiter: asyncio.Future[ClientConnection | None] = loop.create_future()
            waiting.append(waiter)
            handed = await waiter
            if handed is not None:
                return handed
        began = time.perf_counter()
        try:
            conn = await client.connect(timeout_s)
        except BaseException:
            free_slot()
            raise
        connect_times[id(conn)] = time.perf_counter() - began
        return conn

    async def fire(index: int, intended: float) -> None:
        token, path = next_request(index)
        intended_wall = clock.wall(intended)
        conn: ClientConnection | None = None
        sent = False
        try:
            conn = await acquire()
            observe("sent", index, intended_wall)
            sent = True
            response = await conn.send(path, timeout_s, token)
        except HttpError as exc:
            if conn is not None:
                conn.close()
                free_slot()
            record(Sample.failed(index, token, intended_wall, exc.kind))
            observe("failed", index, clock.now())
            return
        except asyncio.CancelledError:  # the load ended (its deadline, Ctrl-C): not the server's doing
            if conn is not None:
                conn.close()
            record(Sample.failed(index, token, intended_wall, CANCELLED if sent else DROPPED))
            raise
        # A timer may wake a hair before the intended start: count from whichever came first.
        sample = _sample(
            clock,
            index,
            token,
            response,
            sent_perf=min(intended, response.sent),
            queued_s=max(0.0, response.sent - intended),
            connect_s=connect_times.pop(id(conn), None),
        )
        record(sample)
        observe("responded", index, sample.responded or 0.0)
        give_back(conn)

    in_flight: set[asyncio.Task[None]] = set()
    deadline = start + duration_s if hard_limits and duration_s is not None else None
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
            left = None if deadline is None else max(0.0, deadline - time.perf_counter())
            await asyncio.wait(set(in_flight), timeout=left)
    finally:
        ending = list(in_flight)
        for task in ending:
            task.cancel()
        if ending:  # each says what it was (cancelled in flight, or never sent) before the load returns
            await asyncio.gather(*ending, return_exceptions=True)
        while idle:
            idle.pop().close()
    return samples
