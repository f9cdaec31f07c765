"""The raw client's open loop, driven by protocol callbacks, as ``bench.engine.pump`` drives the closed one.

The contract is ``bench.engine.load.open_loop``'s: request i is due at ``i / rate``
whatever the server does, its latency counts from then, and a request that finds every
connection busy waits for one (first come, first served) with its wait counted. What
changes is the cost per request: a ticker hands out every request that has come due since
its last wake, and a connection that answers takes the next waiting request in its own
callback, with no task, future or coroutine frame per request. That is what lets the open
loop keep up with wrk2 (``benchmarks/load_vs_wrk2.py``).

With ``hard_limits`` (``bench load``) the duration ends the load at its deadline: what is in
flight is cancelled, what is still waiting was never sent (dropped), neither an error.

``per_connection`` is wrk2's schedule instead: a fixed pool, request i going to connection
i mod c, each connection with its own queue. A request then waits for its own connection
even while another one is free, so a server that serves some connections less than others
(accept order, epoll order) shows in the tail; the default, one queue for all, measures the
server as independent arrivals see it. ``benchmarks/load_vs_wrk2.py`` prints both.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from bench.engine.http import GET, RequestEncoder, ResponseProtocol, worker_pid
from bench.engine.load import Request, Sample, WallClock, open_loop_count
from bench.model.document import CANCELLED, DROPPED
from bench.model.events import LoadObserver
from bench.model.request import RequestSpec

TICK_S = 0.0005  # the ticker's shortest sleep: due requests leave within about this of their time
WATCHDOG_PERIOD_S = 0.05

Due = tuple[int, float]  # a request's index and its intended start (perf_counter)


class _Conn(ResponseProtocol):
    """One connection of the pool: sends what it is given, records it, asks for more."""

    def __init__(self, engine: _OpenLoop, connect_began: float, lane: int = -1) -> None:
        self.engine = engine
        self.lane = lane  # per_connection: which connection of the pool (its own queue); -1: the shared pool
        self.index, self.token, self.intended = 0, "", 0.0
        self.reused = False
        self.closing = False  # closed on purpose: do not hand it work, do not requeue
        self.connect_s: float | None = time.perf_counter() - connect_began
        super().__init__()
        self.in_flight = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.engine.arrived(self)

    def send(self, due: Due) -> None:
        engine = self.engine
        self.index, self.intended = due
        self.token, path = engine.next_request(self.index)
        self.begin(time.perf_counter())
        engine.busy.add(self)
        engine.observe("sent", self.index, engine.clock.wall(self.intended))
        assert self.transport is not None
        self.transport.write(engine.encoder.encode(path, self.token))

    def completed(self, status: int, keep_alive: bool, done: float) -> None:
        engine = self.engine
        engine.busy.discard(self)
        self.reused = True
        if done - self.sent > engine.timeout_s:  # a late answer is a timeout, exactly
            self.in_flight = True
            self.fail("timeout", f"no complete response within {engine.timeout_s:g} s")
            return
        clock = engine.clock
        sample = Sample(
            client=self.index,
            token=self.token,
            sent=clock.wall(min(self.intended, self.sent)),
            first_byte=clock.wall(self.first_byte or done),
            responded=clock.wall(done),
            status=status,
            pid=worker_pid(self.pid),
            error=None,
            queued_s=max(0.0, self.sent - self.intended),
            connect_s=self.connect_s,
        )
        self.connect_s = None
        engine.sink(sample)
        engine.observe("responded", self.index, sample.responded or 0.0)
        if keep_alive and not self.lost:
            engine.free(self)
        else:
            self.close_now()

    def failed(self, kind: str, detail: str) -> None:
        engine = self.engine
        engine.busy.discard(self)
        engine.sink(Sample.failed(self.index, self.token, engine.clock.wall(self.intended), kind))
        engine.observe("failed", self.index, engine.clock.now())
        self.close_now(abort=True)

    def cancel(self) -> None:
        if self.in_flight:
            self.in_flight = False
            engine = self.engine
            engine.sink(Sample.failed(self.index, self.token, engine.clock.wall(self.intended), CANCELLED))
        self.close_now()

    def close_now(self, abort: bool = False) -> None:
        self.closing = True
        if self.transport is not None and not self.lost:
            self.transport.abort() if abort else self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        engine = self.engine
        if self.in_flight and self.reused and not self.first_byte and not self.closing:
            self.in_flight = False  # the server's idle close: it never read this request, which goes again
            engine.busy.discard(self)
            engine.queue_of(self).appendleft((self.index, self.intended))
        super().connection_lost(exc)
        engine.busy.discard(self)
        engine.gone(self)


class _OpenLoop:
    def __init__(
        self,
        host: str,
        port: int,
        next_request: Callable[[int], Request],
        rate: float,
        count: int,
        duration_s: float | None,
        timeout_s: float,
        max_connections: int,
        observe: LoadObserver,
        sink: Callable[[Sample], None],
        spec: RequestSpec,
        hard_limits: bool,
        per_connection: bool = False,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.host, self.port = host, port
        self.next_request = next_request
        self.rate, self.count = rate, count
        self.timeout_s = timeout_s
        self.max_connections = max_connections
        self.observe, self.sink = observe, sink
        self.encoder = RequestEncoder(host, port, spec)
        self.clock = WallClock()
        self.start = time.perf_counter()
        self.deadline = self.start + duration_s if hard_limits and duration_s is not None else None
        self.issued = 0
        self.waiting: deque[Due] = deque()  # due, with no connection yet
        self.idle: list[_Conn] = []
        self.busy: set[_Conn] = set()
        self.conns: set[_Conn] = set()
        # per_connection: each connection's own queue, and the connection serving it (None: opening)
        self.lanes: list[deque[Due]] = [deque() for _ in range(max_connections)] if per_connection else []
        self.lane_conn: list[_Conn | None] = [None] * len(self.lanes)
        self.opening = 0
        self.finished: asyncio.Future[None] = self.loop.create_future()

    # the pool
    def queue_of(self, conn: _Conn) -> deque[Due]:
        return self.waiting if conn.lane < 0 else self.lanes[conn.lane]

    def pending(self) -> bool:
        """Is any request due and not yet sent?"""
        return bool(self.waiting) or any(self.lanes)

    def dispatch(self, due: Due) -> None:
        if self.lanes:
            lane = due[0] % len(self.lanes)
            conn = self.lane_conn[lane]
            if conn is not None and conn not in self.busy and not conn.lost and not conn.closing:
                conn.send(due)
            else:
                self.lanes[lane].append(due)
            return
        while self.idle:
            conn = self.idle.pop()
            if not conn.lost and not conn.closing:
                conn.send(due)
                return
        self.waiting.append(due)
        self.grow()

    def grow(self) -> None:
        while (
            self.waiting and len(self.conns) + self.opening < self.max_connections and self.opening < len(self.waiting)
        ):
            self.opening += 1
            self.loop.create_task(self._connect())

    async def _connect(self, lane: int = -1) -> None:
        began = time.perf_counter()
        queue = self.waiting if lane < 0 else self.lanes[lane]
        try:
            await asyncio.wait_for(
                self.loop.create_connection(lambda: _Conn(self, began, lane), self.host, self.port), self.timeout_s
            )
        except (OSError, asyncio.TimeoutError) as exc:
            self.opening -= 1
            if queue:  # the request whose arrival asked for this connection fails with it
                index, intended = queue.popleft()
                token, _ = self.next_request(index)
                self.sink(Sample.failed(index, token, self.clock.wall(intended), "connect"))
                self.observe("failed", index, self.clock.now())
            if not isinstance(exc, asyncio.TimeoutError):
                await asyncio.sleep(0.01)  # a refusing server must not be hammered in a tight loop
            if lane >= 0:
                self.reopen(lane)
            self.grow()
            self.maybe_finished()
            return
        self.opening -= 1

    def reopen(self, lane: int) -> None:
        """per_connection: the lane's connection again, while the load may still send on it."""
        if not self.finished.done() and (self.issued < self.count or self.lanes[lane]):
            self.opening += 1
            self.loop.create_task(self._connect(lane))

    def arrived(self, conn: _Conn) -> None:
        self.conns.add(conn)
        if conn.lane >= 0:
            self.lane_conn[conn.lane] = conn
        self.free(conn)

    def free(self, conn: _Conn) -> None:
        queue = self.queue_of(conn)
        if queue:
            conn.send(queue.popleft())
        else:
            if conn.lane < 0:
                self.idle.append(conn)
            self.maybe_finished()

    def gone(self, conn: _Conn) -> None:
        self.conns.discard(conn)
        if conn.lane >= 0 and self.lane_conn[conn.lane] is conn:
            self.lane_conn[conn.lane] = None
            self.reopen(conn.lane)
        self.grow()
        self.maybe_finished()

    # the end
    def maybe_finished(self) -> None:
        if self.finished.done() or self.issued < self.count or self.pending() or self.busy or self.opening:
            return
        self.finished.set_result(None)

    def end(self) -> None:
        """The load is over (its deadline, Ctrl-C): in flight is cancelled, waiting was never sent."""
        for conn in list(self.busy):
            conn.cancel()
        for queue in (self.waiting, *self.lanes):
            while queue:
                index, intended = queue.popleft()
                token, _ = self.next_request(index)
                self.sink(Sample.failed(index, token, self.clock.wall(intended), DROPPED))
        self.busy.clear()
        for conn in list(self.conns):
            conn.close_now()
        if not self.finished.done():
            self.finished.set_result(None)

    async def ticker(self) -> None:
        rate, start = self.rate, self.start
        while self.issued < self.count:
            now = time.perf_counter()
            due_until = min(self.count, int((now - start) * rate) + 1)
            while self.issued < due_until:
                self.dispatch((self.issued, start + self.issued / rate))
                self.issued += 1
            if self.issued >= self.count:
                break
            await asyncio.sleep(max(TICK_S, start + self.issued / rate - time.perf_counter()))
        self.maybe_finished()

    async def watchdog(self) -> None:
        while not self.finished.done():
            await asyncio.sleep(WATCHDOG_PERIOD_S)
            now = time.perf_counter()
            if self.deadline is not None and now >= self.deadline:
                self.end()
                return
            for conn in list(self.busy):
                if conn.in_flight and now - conn.sent > self.timeout_s:
                    conn.fail("timeout", f"no complete response within {self.timeout_s:g} s")

    async def run(self) -> None:
        for lane in range(len(self.lanes)):  # per_connection: the whole pool, as wrk2 opens it
            self.reopen(lane)
        tick = self.loop.create_task(self.ticker())
        dog = self.loop.create_task(self.watchdog())
        try:
            await self.finished
        finally:
            tick.cancel()
            dog.cancel()
            self.end()


async def open_loop_raw(
    host: str,
    port: int,
    next_request: Callable[[int], Request],
    rate: float,
    duration_s: float | None,
    total: int | None,
    timeout_s: float,
    max_connections: int,
    observe: LoadObserver,
    sink: Callable[[Sample], None] | None = None,
    spec: RequestSpec = GET,
    hard_limits: bool = False,
    per_connection: bool = False,
) -> list[Sample]:
    """``bench.engine.load.open_loop``'s contract, for the raw client only (see the module doc);
    ``per_connection``: wrk2's schedule, ``max_connections`` connections with a queue each."""
    count = open_loop_count(rate, duration_s, total)
    samples: list[Sample] = []
    engine = _OpenLoop(
        host,
        port,
        next_request,
        rate,
        count,
        duration_s,
        timeout_s,
        max_connections,
        observe,
        samples.append if sink is None else sink,
        spec,
        hard_limits,
        per_connection,
    )
    await engine.run()
    return samples
