"""The raw client's closed loop, driven by protocol callbacks: no task switch per request.

Each connection is a protocol whose "response complete" callback records the sample
and writes the next request at once, as wrk's event loop does. That removes the
future, the task wake-up and the coroutine frame a request costs in
``bench.engine.load.closed_loop``, which is what lets a Python client keep up with wrk
(benchmarks/load_vs_wrk.py). Timeouts are enforced by one watchdog for all
connections; a connection the server closes is replaced while the loop may send.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bench.engine.http import GET, RequestEncoder, ResponseProtocol, worker_pid
from bench.engine.load import Request, Sample, WallClock
from bench.model.events import LoadObserver
from bench.model.request import RequestSpec

WATCHDOG_PERIOD_S = 0.05


class _Pump(ResponseProtocol):
    """One connection of the loop: send, parse (the shared codec), record, send the next."""

    def __init__(self, engine: _ClosedLoop) -> None:
        self.engine = engine
        self.index = 0
        self.token = ""
        self.retired = False  # stopped on purpose: the loop is over, do not replace it
        super().__init__()
        self.in_flight = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.send_next()

    def send_next(self) -> None:
        engine = self.engine
        index = engine.claim()
        if index is None:
            self.stop()
            return
        token, path = engine.next_request(index)
        self.index, self.token = index, token
        request = engine.encoder.encode(path, token)
        self.begin(time.perf_counter())
        if engine.observe_sent:
            engine.observe("sent", index, engine.clock.wall(self.sent))
        assert self.transport is not None
        self.transport.write(request)

    def completed(self, status: int, keep_alive: bool, done: float) -> None:
        engine = self.engine
        clock = engine.clock
        engine.record(
            Sample(
                client=self.index,
                token=self.token,
                sent=clock.wall(self.sent),
                first_byte=clock.wall(self.first_byte or done),
                responded=clock.wall(done),
                status=status,
                pid=worker_pid(self.pid),
                error=None,
            )
        )
        if keep_alive:
            self.send_next()
        else:
            self.stop(replace=True)

    def failed(self, kind: str, detail: str) -> None:
        engine = self.engine
        engine.record(Sample.failed(self.index, self.token, engine.clock.wall(self.sent), kind))
        engine.observe("failed", self.index, engine.clock.now())
        if not self.lost and self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.engine.connection_gone(self)

    def stop(self, replace: bool = False) -> None:
        self.retired = not replace
        if self.transport is not None:
            self.transport.close()


class _ClosedLoop:
    def __init__(
        self,
        host: str,
        port: int,
        next_request: Callable[[int], Request],
        connections: int,
        duration_s: float | None,
        total: int | None,
        timeout_s: float,
        observe: LoadObserver,
        observe_sent: bool,
        sink: Callable[[Sample], None] | None = None,
        spec: RequestSpec = GET,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.observe_sent = observe_sent
        self.host, self.port = host, port
        self.next_request = next_request
        self.connections = connections
        self.total = total
        self.timeout_s = timeout_s
        self.observe = observe
        self.clock = WallClock()
        self.deadline = None if duration_s is None else time.perf_counter() + duration_s
        self.encoder = RequestEncoder(host, port, spec)
        self.samples: list[Sample] = []
        self.sink = self.samples.append if sink is None else sink
        self.issued = 0
        self.pumps: set[_Pump] = set()
        self.opening = 0
        self.finished: asyncio.Future[None] = self.loop.create_future()

    def claim(self) -> int | None:
        if (self.total is not None and self.issued >= self.total) or (
            self.deadline is not None and time.perf_counter() >= self.deadline
        ):
            return None
        self.issued += 1
        return self.issued - 1

    def record(self, sample: Sample) -> None:
        self.sink(sample)
        if sample.error is None:
            self.observe("responded", sample.client, sample.responded or 0.0)

    def connection_gone(self, pump: _Pump) -> None:
        self.pumps.discard(pump)
        if not pump.retired:
            self.open_one()
        self._maybe_finished()

    def open_one(self) -> None:
        if self.claimable():
            self.opening += 1
            self.loop.create_task(self._connect())

    def claimable(self) -> bool:
        return (self.total is None or self.issued < self.total) and (
            self.deadline is None or time.perf_counter() < self.deadline
        )

    async def _connect(self) -> None:
        try:
            _, pump = await asyncio.wait_for(
                self.loop.create_connection(lambda: _Pump(self), self.host, self.port), self.timeout_s
            )
            if not pump.lost:  # it may already be over: closed before this coroutine resumed
                self.pumps.add(pump)
        except (OSError, asyncio.TimeoutError) as exc:
            index = self.claim()
            if index is not None:
                token, _ = self.next_request(index)
                self.record(Sample.failed(index, token, self.clock.now(), "connect"))
                self.observe("failed", index, self.clock.now())
                if not isinstance(exc, asyncio.TimeoutError):
                    await asyncio.sleep(0.01)  # a refusing server must not be hammered in a tight loop
                self.opening -= 1
                self.open_one()
                self._maybe_finished()
                return
        self.opening -= 1
        self._maybe_finished()

    def _maybe_finished(self) -> None:
        if not self.pumps and not self.opening and not self.finished.done():
            self.finished.set_result(None)

    async def watchdog(self) -> None:
        while not self.finished.done():
            await asyncio.sleep(WATCHDOG_PERIOD_S)
            now = time.perf_counter()
            for pump in list(self.pumps):
                if pump.in_flight and now - pump.sent > self.timeout_s:
                    pump.fail("timeout", f"no complete response within {self.timeout_s:g} s")
                elif not pump.in_flight and not self.claimable():
                    pump.stop()

    async def run(self) -> list[Sample]:
        for _ in range(self.connections):
            self.open_one()
        self._maybe_finished()
        dog = self.loop.create_task(self.watchdog())
        try:
            await self.finished
        finally:
            dog.cancel()
            for pump in list(self.pumps):
                pump.stop()
        return self.samples


async def closed_loop_raw(
    host: str,
    port: int,
    next_request: Callable[[int], Request],
    connections: int,
    duration_s: float | None,
    total: int | None,
    timeout_s: float,
    observe: LoadObserver,
    observe_sent: bool = True,
    sink: Callable[[Sample], None] | None = None,
    spec: RequestSpec = GET,
) -> list[Sample]:
    """The same contract as ``bench.engine.load.closed_loop``, for the raw client only.

    ``observe_sent=False`` skips the per-request 'sent' event for observers that only
    count answers (it is the one event on the hot path that nothing else needs). With
    ``sink``, every sample goes there and the list returned is empty.
    """
    if duration_s is None and total is None:
        raise ValueError("a closed loop needs a duration, a total, or both")
    engine = _ClosedLoop(
        host, port, next_request, connections, duration_s, total, timeout_s, observe, observe_sent, sink, spec
    )
    return await engine.run()
