"""The load patterns against small raw servers whose behaviour the test controls."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from bench.engine.clients import ClientConnection, RawClient
from bench.engine.load import Request, SameRequest, Sample, burst, closed_loop, open_loop
from bench.engine.load_recorder import LoadRecorder
from bench.engine.open_pump import open_loop_raw
from bench.engine.pump import closed_loop_raw
from bench.model.document import CANCELLED, DROPPED
from bench.model.events import no_load_observer
from tests.factories import Handler, responder, with_raw_server

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Worker-Pid: 7\r\n\r\nok"
CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def path(i: int) -> Request:
    return f"t{i}", f"/push/t{i}"


@pytest.mark.parametrize("engine", ["pump", "coroutine"])
def test_closed_loop_sends_exactly_the_total(engine: str) -> None:
    async def client(port: int) -> list[Sample]:
        if engine == "pump":
            return await closed_loop_raw("127.0.0.1", port, path, 8, None, 500, 2.0, lambda *a: None)
        return await closed_loop(RawClient("127.0.0.1", port), path, 8, None, 500, 2.0)

    samples = asyncio.run(with_raw_server(responder(OK), client))
    assert len(samples) == 500
    assert sorted(s.client for s in samples) == list(range(500))
    assert all(s.status == 200 and s.error is None and s.pid == 7 for s in samples)
    assert all(s.sent <= (s.first_byte or 0) <= (s.responded or 0) for s in samples)


class _SlowFirstConnect(RawClient):
    """A raw client whose first connection takes 0.1 s (a busy machine's), the others none."""

    def __init__(self, port: int) -> None:
        super().__init__("127.0.0.1", port)
        self.first = True

    async def connect(self, timeout_s: float) -> ClientConnection:
        if self.first:
            self.first = False
            await asyncio.sleep(0.1)
        return await super().connect(timeout_s)


def test_a_burst_counts_each_tab_from_its_turn_not_from_its_connection() -> None:
    async def client(port: int) -> list[Sample]:
        return await burst(_SlowFirstConnect(port), [path(i) for i in range(4)], 0.05, 2.0)

    samples = sorted(asyncio.run(with_raw_server(responder(OK), client)), key=lambda s: s.client)
    sent = [s.sent - samples[0].sent for s in samples]
    # the tabs' turns, 0.05 s apart, though the first one's request went out 0.1 s late (after the second's)
    assert sent[1:] == pytest.approx([0.05, 0.10, 0.15], abs=0.02), sent
    assert samples[0].responded is not None and samples[0].responded - samples[0].sent >= 0.1  # its wait is its own


@pytest.mark.parametrize("engine", ["pump", "coroutine"])
def test_closed_loop_replaces_connections_the_server_closes(engine: str) -> None:
    async def client(port: int) -> list[Sample]:
        if engine == "pump":
            return await closed_loop_raw("127.0.0.1", port, path, 4, None, 200, 2.0, lambda *a: None)
        return await closed_loop(RawClient("127.0.0.1", port), path, 4, None, 200, 2.0)

    samples = asyncio.run(with_raw_server(responder(OK, close_after=3, last=CLOSE), client))
    assert len(samples) == 200
    assert sum(1 for s in samples if s.status == 200) == 200


@pytest.mark.parametrize("engine", ["pump", "coroutine"])
def test_closed_loop_stops_at_the_duration_and_counts_timeouts(engine: str) -> None:
    async def client(port: int) -> list[Sample]:
        if engine == "pump":
            return await closed_loop_raw("127.0.0.1", port, path, 2, 0.5, None, 0.2, lambda *a: None)
        return await closed_loop(RawClient("127.0.0.1", port), path, 2, 0.5, None, 0.2)

    began = time.monotonic()
    samples = asyncio.run(with_raw_server(responder(OK, delay=lambda: 5.0), client))  # a server that stalls
    assert time.monotonic() - began < 3  # no hang: timeouts end every request
    assert samples and all(s.error == "timeout" for s in samples)


def test_a_refused_connection_is_an_error_not_a_hang() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        samples = asyncio.run(closed_loop_raw("127.0.0.1", port, path, 2, 0.3, None, 1.0, lambda *a: None))
    assert samples and all(x.error == "connect" for x in samples)


STALL_FROM, STALL_TO = 0.4, 1.4  # seconds after the load starts
RATE = 50.0


IMPLEMENTATIONS = pytest.mark.parametrize("impl", ["coroutines", "callbacks"])


async def an_open_loop(
    impl: str,
    port: int,
    rate: float,
    duration_s: float | None,
    total: int | None,
    timeout_s: float,
    max_connections: int,
    hard_limits: bool = False,
) -> list[Sample]:
    """The open loop of the coroutine client, or the raw client's callback-driven one: one contract."""
    if impl == "coroutines":
        http = RawClient("127.0.0.1", port)
        return await open_loop(http, path, rate, duration_s, total, timeout_s, max_connections, hard_limits=hard_limits)
    return await open_loop_raw(
        "127.0.0.1",
        port,
        path,
        rate,
        duration_s,
        total,
        timeout_s,
        max_connections,
        no_load_observer,
        hard_limits=hard_limits,
    )


@IMPLEMENTATIONS
def test_open_loop_latency_counts_from_the_intended_start(impl: str) -> None:
    """A server that holds every answer for a second: every request scheduled during the
    stall must show it (the stall's remaining time), not only one per connection."""
    start = 0.0

    def delay() -> float:
        now = time.perf_counter() - start
        return STALL_TO - now if STALL_FROM <= now < STALL_TO else 0.0

    async def client(port: int) -> list[Sample]:
        nonlocal start
        start = time.perf_counter()
        return await an_open_loop(impl, port, RATE, 2.0, None, 5.0, 1000)

    samples = asyncio.run(with_raw_server(responder(OK, delay=delay), client))
    assert len(samples) == int(2.0 * RATE)
    assert all(s.error is None for s in samples)
    t0 = min(s.sent for s in samples)
    inside = [s for s in samples if STALL_FROM + 0.05 <= s.sent - t0 <= STALL_TO - 0.1]
    assert len(inside) >= 40
    for s in inside:
        intended = s.sent - t0
        latency = (s.responded or 0) - s.sent
        assert latency >= (STALL_TO - intended) - 0.06, (intended, latency)
    after = [s for s in samples if s.sent - t0 > STALL_TO + 0.2]
    assert after and max((s.responded or 0) - s.sent for s in after) < 0.2  # recovered
    # the pool grew during the stall, so requests were not held in the client
    assert max(s.queued_s or 0 for s in samples) < 0.2


@IMPLEMENTATIONS
def test_an_open_loop_with_a_full_pool_waits_and_counts_from_the_intended_start(impl: str) -> None:
    """2 connections, 0.1 s a request, 100 requests a second: wrk2's promise at any pool size.
    Nothing is dropped; each latency counts from when it was meant to start, so it grows."""

    async def client(port: int) -> list[Sample]:
        return await an_open_loop(impl, port, 100.0, 0.2, None, 30.0, max_connections=2)

    samples = asyncio.run(with_raw_server(responder(OK, delay=lambda: 0.1), client))
    assert len(samples) == 20 and all(s.status == 200 for s in samples)
    by_start = sorted(samples, key=lambda s: s.sent)
    took = [s.responded - s.sent for s in by_start if s.responded is not None]
    assert took[-1] > 5 * took[0]  # the last waited for 9 answers of 0.1 s on 2 connections
    assert max(s.queued_s or 0 for s in samples) > 0.6


@IMPLEMENTATIONS
def test_an_open_loop_with_hard_limits_ends_at_its_deadline(impl: str) -> None:
    async def client(port: int) -> list[Sample]:
        return await an_open_loop(impl, port, 100.0, 0.5, None, 30.0, max_connections=2, hard_limits=True)

    started = time.monotonic()
    samples = asyncio.run(with_raw_server(responder(OK, delay=lambda: 0.3), client))
    assert time.monotonic() - started < 1.5  # not the 7.5 s the 50 requests would take
    kinds = Counter(s.error or str(s.status) for s in samples)
    assert kinds["200"] >= 2 and kinds[CANCELLED] == 2 and kinds[DROPPED] > 30, kinds
    assert sum(kinds.values()) == 50 and set(kinds) == {"200", CANCELLED, DROPPED}


def test_open_loop_needs_a_bound_and_a_rate() -> None:
    with pytest.raises(ValueError):
        asyncio.run(open_loop(RawClient("127.0.0.1", 1), path, 10.0, None, None, 1.0, 10))
    with pytest.raises(ValueError):
        asyncio.run(open_loop(RawClient("127.0.0.1", 1), path, 0.0, 1.0, None, 1.0, 10))


def hot_path_load(handler: Handler, connections: int) -> LoadRecorder:
    """0.3 s of ``bench load``'s closed loop (one request, answers without samples) on ``handler``."""
    recorder = LoadRecorder()

    async def client(port: int) -> list[Sample]:
        return await closed_loop_raw(
            "127.0.0.1", port, SameRequest("/"), connections, 0.3, None, 2.0, lambda *a: None, False, recorder.add,
            answered=recorder.answered,
        )  # fmt: skip

    asyncio.run(with_raw_server(handler, client))
    return recorder


def test_a_closed_connection_leaves_no_cycle_for_the_collector() -> None:
    """Parser, protocol and transport hold one another; a connection closed after each answer must
    be freed by its reference counts, or a reconnecting load spends its time in the collector."""
    import gc

    gc.collect()
    gc.disable()
    try:
        recorder = hot_path_load(responder(CLOSE), 4)
        assert len(recorder.latencies) > 20  # connections closed, each a cycle if any (80 in 0.3 s when busy)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left["_Pump"] == 0 and left["HttpResponseParser"] == 0, left.most_common(5)


def test_answers_recorded_without_samples_give_the_same_figures() -> None:
    """The closed loop's hot path (``answered``) against ``add``: one set of answers, both ways."""
    import random

    rng = random.Random(3)
    answers = [(1000.0 + i * 0.002, rng.expovariate(300), 200 if i % 7 else 404) for i in range(3000)]
    for exact_limit in (100_000, 500):
        by_sample, by_answer = LoadRecorder(exact_limit), LoadRecorder(exact_limit)
        for i, (sent, took, status) in enumerate(answers):
            by_sample.add(Sample(i, "", sent, sent + took, sent + took, status, None, None, connect_s=0.001))
            by_answer.answered(sent, took, status, 0.001)
        a = by_sample.figures("u", "closed", "raw", "uvloop", 4)
        b = by_answer.figures("u", "closed", "raw", "uvloop", 4)
        assert a.requests == b.requests == 3000 and a.statuses == b.statuses
        assert [(x.at_s, x.requests) for x in a.seconds] == [(x.at_s, x.requests) for x in b.seconds]
        assert [x.p99_ms for x in b.seconds] == pytest.approx([x.p99_ms for x in a.seconds], rel=1e-9)
        assert a.latency is not None and b.latency is not None
        for q in ("min_ms", "p50_ms", "p99_ms", "max_ms", "mean_ms"):
            assert getattr(b.latency, q) == pytest.approx(getattr(a.latency, q), rel=1e-6), q
        assert a.precision == b.precision and a.connect == b.connect


@pytest.mark.parametrize(
    ("raw", "answers"),
    [
        (b"HTTP/1.0 200 OK\r\n\r\nall of it", True),  # the body ends with the connection
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nshort", False),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nabc", False),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nall", True),  # the last head counts
    ],
)
def test_the_hot_path_reads_no_header_and_still_knows_where_a_body_ends(raw: bytes, answers: bool) -> None:
    """Answers recorded without samples need no header: the parser reads none, and the head is
    read again only when the connection closed before the body's end was seen."""
    recorder = hot_path_load(responder(raw, close_after=1), 2)
    if answers:
        assert len(recorder.latencies) > 5 and recorder.errors == Counter()
    else:
        assert len(recorder.latencies) == 0 and set(recorder.errors) == {"closed"} and recorder.errors["closed"] > 5
