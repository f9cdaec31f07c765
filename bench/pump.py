"""The raw client's closed loop, driven by protocol callbacks: no task switch per request.

Each connection is a protocol whose "response complete" callback records the sample
and writes the next request at once, as wrk's event loop does. That removes the
future, the task wake-up and the coroutine frame a request costs in
``bench.load.closed_loop``, which is what lets a Python client keep up with wrk
(benchmarks/load_vs_wrk.py). Timeouts are enforced by one watchdog for all
connections; a connection the server closes is replaced while the loop may send.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import cast

import httptools

from bench.load import PID_HEADER, Observer, Request, Sample, WallClock

WATCHDOG_PERIOD_S = 0.05


class _Pump(asyncio.Protocol):
    """One connection of the loop: send, parse, record, send the next."""

    def __init__(self, engine: _ClosedLoop) -> None:
        self.engine = engine
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.in_flight = False
        self.path = ""
        self.request = b""
        self.index = 0
        self.token = ""
        self.sent = 0.0
        self.first_byte = 0.0
        self.pid: bytes | None = None
        self.framed = False
        self.headers_done = False
        self.retired = False  # stopped on purpose: the loop is over, do not replace it

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.send_next()

    def send_next(self) -> None:
        engine = self.engine
        index = engine.claim()
        if index is None:
            self.stop()
            return
        token, path = engine.next_request(index)
        if path != self.path:
            self.path, self.request = path, b"GET " + path.encode() + engine.suffix
        self.index, self.token = index, token
        self.first_byte = 0.0
        self.pid = None
        self.framed = self.headers_done = False
        self.in_flight = True
        self.sent = time.perf_counter()
        if engine.observe_sent:
            engine.observe("sent", index, engine.clock.wall(self.sent))
        assert self.transport is not None
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if not self.first_byte:
            self.first_byte = time.perf_counter()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.fail("protocol")

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.lower()
        if key == PID_HEADER:
            self.pid = value
        elif key == b"content-length" or (key == b"transfer-encoding" and b"chunked" in value.lower()):
            self.framed = True

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_message_complete(self) -> None:
        if not self.in_flight:
            return
        self.in_flight = False
        engine = self.engine
        clock = engine.clock
        done = time.perf_counter()
        pid = self.pid
        engine.record(
            Sample(
                self.index,
                self.token,
                clock.wall(self.sent),
                clock.wall(self.first_byte or done),
                clock.wall(done),
                self.parser.get_status_code(),
                int(pid) if pid and pid.isdigit() else None,
                None,
            )
        )
        if self.parser.should_keep_alive():
            self.send_next()
        else:
            self.stop(replace=True)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight:
            if self.headers_done and not self.framed and exc is None:
                self.on_message_complete()  # the body ended with the connection
            else:
                kind = "reset" if isinstance(exc, (ConnectionResetError, BrokenPipeError)) else "closed"
                self.fail(kind, close=False)
        self.engine.connection_gone(self)

    def fail(self, kind: str, close: bool = True) -> None:
        if self.in_flight:
            self.in_flight = False
            self.engine.record(
                Sample(self.index, self.token, self.engine.clock.wall(self.sent), None, None, None, None, kind)
            )
            self.engine.observe("failed", self.index, self.engine.clock.now())
        if close and self.transport is not None:
            self.transport.abort()

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
        observe: Observer,
        observe_sent: bool,
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
        self.suffix = f" HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bench\r\n\r\n".encode()
        self.samples: list[Sample] = []
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
        self.samples.append(sample)
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
            self.pumps.add(pump)
        except (OSError, asyncio.TimeoutError) as exc:
            index = self.claim()
            if index is not None:
                token, _ = self.next_request(index)
                self.record(Sample(index, token, self.clock.now(), None, None, None, None, "connect"))
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
                    pump.fail("timeout")
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
    observe: Observer,
    observe_sent: bool = True,
) -> list[Sample]:
    """The same contract as ``bench.load.closed_loop``, for the raw client only.

    ``observe_sent=False`` skips the per-request 'sent' event for observers that only
    count answers (it is the one event on the hot path that nothing else needs).
    """
    if duration_s is None and total is None:
        raise ValueError("a closed loop needs a duration, a total, or both")
    engine = _ClosedLoop(host, port, next_request, connections, duration_s, total, timeout_s, observe, observe_sent)
    return await engine.run()
