"""The raw client's closed loop, driven by protocol callbacks: no task switch per request.

Each connection is a protocol whose "response complete" callback records the sample
and writes the next request at once, as wrk's event loop does. That removes the
future, the task wake-up and the coroutine frame a request costs in
``bench.engine.load.closed_loop``, which is what lets a Python client keep up with wrk
(benchmarks/load_vs_wrk.py). Timeouts are enforced by one watchdog for all
connections, and exactly: an answer later than the timeout is a timeout, whenever the
watchdog looked. A connection the server closes is replaced while the loop may send; one
it closed while idle (kept alive, no ``Connection: close``) takes the request it was
given to a new connection, which is not the server's error: it never read it.

With ``hard_limits`` (``bench load``): ``-d`` ends the load at its deadline, the requests
then in flight counted as cancelled (as at Ctrl-C), never as errors; ``-n`` counts answers,
so a failed attempt is made again (up to ``ATTEMPTS_PER_REQUEST`` times the total).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

from bench.engine.http import GET, RequestEncoder, ResponseProtocol, worker_pid
from bench.engine.load import Request, SameRequest, Sample, WallClock
from bench.model.document import CANCELLED
from bench.model.events import LoadObserver
from bench.model.request import RequestSpec

WATCHDOG_PERIOD_S = 0.05
ATTEMPTS_PER_REQUEST = 10  # -n N with hard limits: at most 10 N attempts against a server that always fails

Answered = Callable[[float, float, int, "float | None"], None]  # sent (wall s), took (s), status, connect_s


class _Pump(ResponseProtocol):
    """One connection of the loop: send, parse (the shared codec), record, send the next."""

    def __init__(self, engine: _ClosedLoop) -> None:
        self.engine = engine
        self.index = 0
        self.token = ""
        self.retired = False  # stopped on purpose: the loop is over, do not replace it
        self.reused = False  # it has answered once: a close before the next answer may be the server's idle close
        self.connect_s: float | None = None  # set when connected; given to its first request's sample
        self.reads_headers = engine.answered is None  # a recorder without samples needs no pid
        super().__init__()
        self.in_flight = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.send_next()

    def send_next(self) -> None:
        engine = self.engine
        if engine.same is not None and not engine.retries:  # the hot path: one request's bytes, no total
            now = time.perf_counter()
            if now >= engine.deadline_at:
                self.stop()
                return
            self.index = engine.issued
            engine.issued += 1
            self.sent, self.first_byte, self.pid, self.in_flight = now, 0.0, None, True  # begin(), inlined
            self.framed = self.headers_done = False
            self.head.clear()
            assert self.transport is not None
            self.transport.write(engine.same)
            return
        if engine.retries and engine.in_time():
            index, token = engine.retries.popleft()
            path = engine.next_request(index)[1]
        else:
            claimed = engine.claim()
            if claimed is None:
                self.stop()
                return
            index = claimed
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
        self.reused = True
        took = done - self.sent
        if took > engine.timeout_s:  # answered, but after the timeout: a timeout, exactly
            self.in_flight = True
            self.fail("timeout", f"no complete response within {engine.timeout_s:g} s")
            return
        answered = engine.answered
        if answered is not None:  # a recorder that needs no Sample (bench load)
            sent = self.sent + clock.offset
            answered(sent, took, status, self.connect_s)
            engine.observe("responded", self.index, sent + took)
        else:
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
                    connect_s=self.connect_s,
                )
            )
        self.connect_s = None
        if keep_alive:
            self.send_next()
        else:  # its replacement is opened now, not once the close is done: a reconnect costs one round trip
            self.stop()
            engine.open_one()

    def failed(self, kind: str, detail: str) -> None:
        engine = self.engine
        engine.record(Sample.failed(self.index, self.token, engine.clock.wall(self.sent), kind))
        engine.observe("failed", self.index, engine.clock.now())
        if not self.lost and self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight and self.reused and not self.first_byte and not self.retired:
            # The server closed this kept-alive connection while it was idle, before it read the
            # request just written: that request goes again on a new connection, no error.
            self.in_flight = False
            self.engine.retries.append((self.index, self.token))
        super().connection_lost(exc)
        self.engine.connection_gone(self)

    def cancel(self) -> None:
        """The load is over with this request in flight: cancelled, not failed, and the connection closed."""
        if self.in_flight:
            self.in_flight = False
            self.engine.record(Sample.failed(self.index, self.token, self.engine.clock.wall(self.sent), CANCELLED))
        self.stop()

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
        answered: Answered | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.hard_limits = False  # bench load's: -d a hard deadline, -n counts answers
        self.retries: deque[tuple[int, str]] = deque()  # requests a server's idle close kept from being read
        self.failures = 0  # attempts that got no answer (with hard limits, -n does not count them)
        self.observe_sent = observe_sent
        self.host, self.port = host, port
        self.next_request = next_request
        self.connections = connections
        self.total = total
        self.timeout_s = timeout_s
        self.observe = observe
        self.clock = WallClock()
        self.deadline = None if duration_s is None else time.perf_counter() + duration_s
        self.deadline_at = math.inf if self.deadline is None else self.deadline
        self.encoder = RequestEncoder(host, port, spec)
        self.answered = answered
        self.same: bytes | None = None  # the one request, when all are the same and only time bounds the load
        if isinstance(next_request, SameRequest) and not spec.templated and total is None and not observe_sent:
            self.same = self.encoder.encode(next_request.path)
        self.samples: list[Sample] = []
        self.sink = self.samples.append if sink is None else sink
        self.issued = 0
        self.pumps: set[_Pump] = set()
        self.opening = 0
        self.connecting: dict[asyncio.Task[tuple[asyncio.BaseTransport, _Pump]], float] = {}  # -> when it began
        self.over = False  # the deadline or Ctrl-C ended the load
        self.finished: asyncio.Future[None] = self.loop.create_future()

    def in_time(self) -> bool:
        return self.deadline is None or time.perf_counter() < self.deadline

    def claim(self) -> int | None:
        if not self.claimable():
            return None
        self.issued += 1
        return self.issued - 1

    def record(self, sample: Sample) -> None:
        self.sink(sample)
        if sample.error is None:
            self.observe("responded", sample.client, sample.responded or 0.0)
        elif sample.error != CANCELLED:
            self.failures += 1

    def connection_gone(self, pump: _Pump) -> None:
        self.pumps.discard(pump)
        if not pump.retired:
            self.open_one()
        self._maybe_finished()

    def open_one(self) -> None:
        """Open a connection, without a coroutine or a timer of its own: one task (uvloop's connect)
        and a callback, as a reconnect per request (``Connection: close``) needs it cheap. The
        watchdog cancels a connect that outlasts the timeout."""
        if not self.claimable():
            return
        self.opening += 1
        began = time.perf_counter()

        def made() -> _Pump:
            pump = _Pump(self)
            pump.connect_s = time.perf_counter() - began  # built as the connection is made, before it sends
            return pump

        task = self.loop.create_task(self.loop.create_connection(made, self.host, self.port))
        self.connecting[task] = began
        task.add_done_callback(self._connected)

    def cancel_connects(self) -> None:
        """The load is over: connects under way are abandoned, neither sent nor failed."""
        self.over = True
        for task in list(self.connecting):
            task.cancel()

    def _connected(self, task: asyncio.Task[tuple[asyncio.BaseTransport, _Pump]]) -> None:
        del self.connecting[task]
        self.opening -= 1
        if self.over and task.cancelled():
            self._maybe_finished()
            return
        failure = None if task.cancelled() else task.exception()
        if task.cancelled() or failure is not None:
            index = self.claim()
            if index is not None:
                token, _ = self.next_request(index)
                self.record(Sample.failed(index, token, self.clock.now(), "connect"))
                self.observe("failed", index, self.clock.now())
                if isinstance(failure, OSError):  # a refusing server must not be hammered in a tight loop
                    self.opening += 1
                    self.loop.call_later(0.01, self._reopen)
                else:
                    self.open_one()
        else:
            pump = task.result()[1]
            if not pump.lost:  # it may already be over: closed before this callback ran
                self.pumps.add(pump)
        self._maybe_finished()

    def _reopen(self) -> None:
        self.opening -= 1
        self.open_one()
        self._maybe_finished()

    def claimable(self) -> bool:
        if not self.in_time():
            return False
        if self.retries or self.total is None:  # a request an idle close kept from the server goes again
            return True
        if self.hard_limits:  # -n counts answers: a failed attempt is made again, within a bound
            return self.issued - self.failures < self.total and self.issued < ATTEMPTS_PER_REQUEST * self.total
        return self.issued < self.total

    def _maybe_finished(self) -> None:
        if not self.pumps and not self.opening and not self.finished.done():
            self.finished.set_result(None)

    async def watchdog(self) -> None:
        while not self.finished.done():
            now = time.perf_counter()
            wake = WATCHDOG_PERIOD_S
            if self.hard_limits and self.deadline is not None:
                if now >= self.deadline:  # -d is a hard limit: what is in flight now is cancelled
                    for pump in list(self.pumps):
                        pump.cancel()
                    self.cancel_connects()
                    self.retries.clear()
                    self._maybe_finished()
                    return
                wake = min(wake, self.deadline - now)
            await asyncio.sleep(wake)
            now = time.perf_counter()
            for task, began in list(self.connecting.items()):
                if now - began > self.timeout_s:
                    task.cancel()  # a connect that outlasted the timeout: a connect error
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
            for pump in list(self.pumps):  # Ctrl-C: in flight is cancelled, not the server's failure
                pump.cancel()
            self.cancel_connects()
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
    hard_limits: bool = False,
    answered: Answered | None = None,
) -> list[Sample]:
    """The same contract as ``bench.engine.load.closed_loop``, for the raw client only.

    ``observe_sent=False`` skips the per-request 'sent' event for observers that only
    count answers (it is the one event on the hot path that nothing else needs). With
    ``sink``, every sample goes there and the list returned is empty; with ``answered`` too,
    answers go there instead, without a ``Sample`` (failures still go to ``sink``). A
    ``SameRequest`` with no total and no 'sent' events takes the hot path: the request
    encoded once, ``begin`` inlined.
    """
    if duration_s is None and total is None:
        raise ValueError("a closed loop needs a duration, a total, or both")
    engine = _ClosedLoop(
        host,
        port,
        next_request,
        connections,
        duration_s,
        total,
        timeout_s,
        observe,
        observe_sent,
        sink,
        spec,
        answered,
    )
    engine.hard_limits = hard_limits
    return await engine.run()
