"""``bench load``'s HTTP semantics, each case on a small loopback server the test starts:
interim answers, the Host header, non-2xx, the deadline and Ctrl-C, -n, idle closes,
--no-keepalive, connect time, an exact timeout, and an open loop that omits nothing."""

from __future__ import annotations

import json
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.factories import bench

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Seen:
    """What the server saw: each request's bytes, how many connections."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.connections = 0
        self.lock = threading.Lock()


@contextmanager
def server(
    answer: Callable[[int], bytes | None], close_after_each: bool = False, one_at_a_time: bool = False
) -> Iterator[tuple[int, Seen]]:
    """Keep-alive HTTP on loopback: ``answer(n)`` for the n-th request (None: never answer);
    ``close_after_each``: close after every answer without saying so (an idle close);
    ``one_at_a_time``: one request served at a time, machine-wide (a single-threaded server)."""
    seen = Seen()
    turn = threading.Lock()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with seen.lock:
                seen.connections += 1
            conn: socket.socket = self.request
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                with seen.lock:
                    seen.requests.append(head)
                    n = len(seen.requests)
                reply = answer(n)
                if reply is None:
                    time.sleep(60)  # a server that never answers (the test ends first)
                    return
                if one_at_a_time:
                    with turn:
                        time.sleep(0.02)
                        conn.sendall(reply)
                else:
                    conn.sendall(reply)
                if close_after_each:
                    return

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv.server_address[1], seen
    finally:
        srv.shutdown()
        srv.server_close()


def load_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = bench("load", *args, "--json", "--out", str(tmp_path), capsys=capsys)
    return code, (json.loads(out) if out.strip().startswith("{") else {}), err


def test_an_interim_103_is_skipped_not_counted(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" + OK
    with server(lambda n: hints) as (port, seen):
        code, f, err = load_json(capsys, tmp_path, f"http://127.0.0.1:{port}/", "-n", "50", "-c", "2")
    assert code == 0, err
    assert f["requests"] == 50 == len(seen.requests) and f["statuses"] == {"200": 50} and f["errors"] == {}


@pytest.mark.parametrize(("host", "header"), [("localhost", "localhost"), ("[::1]", "[::1]")])
def test_the_host_header_is_the_urls(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, host: str, header: str
) -> None:
    if host == "[::1]":
        if not socket.has_ipv6:
            pytest.skip("no IPv6 here")
        pytest.importorskip("ipaddress")
        with socket.socket(socket.AF_INET6) as probe:
            try:
                probe.bind(("::1", 0))
            except OSError:
                pytest.skip("no ::1 here")
        _ipv6_host_header(capsys, tmp_path)
        return
    with server(lambda n: OK) as (port, seen):
        code, _, err = load_json(capsys, tmp_path, f"http://{host}:{port}/x", "-n", "3", "-c", "1")
    assert code == 0, err
    assert f"\r\nHost: {header}:{port}\r\n".encode() in seen.requests[0] + b"\r\n"


def _ipv6_host_header(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_INET6)
    sock.bind(("::1", 0))
    sock.listen(8)
    port = sock.getsockname()[1]
    got: list[bytes] = []

    def serve() -> None:
        for _ in range(2):  # the listening check, then the request
            conn, _ = sock.accept()
            with conn:
                data = conn.recv(65536)
                if data:
                    got.append(data)
                    conn.sendall(OK.replace(b"200 OK\r\n", b"200 OK\r\nConnection: close\r\n"))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    code, _, err = load_json(capsys, tmp_path, f"http://[::1]:{port}/", "-n", "1", "-c", "1")
    sock.close()
    assert code == 0, err
    assert f"\r\nHost: [::1]:{port}\r\n".encode() in got[0]


def test_non_2xx_answers_are_counted_and_fail_with_the_flag(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    with server(lambda n: missing) as (port, _):
        code, f, _ = load_json(capsys, tmp_path, f"http://127.0.0.1:{port}/", "-n", "10", "-c", "2")
        assert code == 0 and f["non_2xx"] == 10 and f["errors"] == {}
        code, _, err = bench(
            "load", f"http://127.0.0.1:{port}/", "-n", "10", "--fail-non-2xx", "--out", str(tmp_path), capsys=capsys
        )
    assert code == 3 and "10 of 10 answers were not 2xx" in err


def test_the_deadline_ends_the_load_and_cancels_what_is_in_flight(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with server(lambda n: None) as (port, _):
        started = time.monotonic()
        _, f, _ = load_json(capsys, tmp_path, f"http://127.0.0.1:{port}/", "-d", "0.5", "-c", "4")
        took = time.monotonic() - started
    assert took < 3, f"-d 0.5 ran {took:.1f} s"
    assert f["cancelled"] == 4 and f["errors"] == {}, f
    assert f["duration_s"] >= 0.45  # it lasted, although nothing answered


def test_ctrl_c_cancels_what_is_in_flight_never_an_error(tmp_path: Path) -> None:
    with server(lambda n: None) as (port, seen):
        url = f"http://127.0.0.1:{port}/"
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench", "load", url, "-c", "8", "-d", "30", "--json", "--out", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while len(seen.requests) < 8:  # all 8 in flight at the server
            assert time.monotonic() < deadline and proc.poll() is None, "the load never had 8 requests in flight"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    f = json.loads(out)
    assert f["interrupted"] and f["cancelled"] == 8 and f["errors"] == {}, f


def test_an_idle_close_is_reopened_and_n_counts_answers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with server(lambda n: OK, close_after_each=True) as (port, seen):
        code, f, err = load_json(capsys, tmp_path, f"http://127.0.0.1:{port}/", "-n", "200", "-c", "4")
    assert code == 0, err
    assert f["requests"] == 200 and f["errors"] == {}, f
    assert seen.connections >= 200


def test_no_keepalive_opens_a_connection_per_request_and_times_each(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    closing = OK.replace(b"200 OK\r\n", b"200 OK\r\nConnection: close\r\n")
    with server(lambda n: closing) as (port, seen):
        code, f, err = load_json(capsys, tmp_path, f"http://127.0.0.1:{port}/", "-n", "20", "-c", "1", "--no-keepalive")
    assert code == 0, err
    assert seen.connections == 21  # the check that something listens, then one per request
    assert all(b"\r\nConnection: close" in r for r in seen.requests)
    assert f["connect"] is not None and f["connect"]["p50_ms"] > 0


def test_an_answer_after_the_timeout_is_a_timeout_exactly(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def late(n: int) -> bytes:  # later than the timeout, earlier than the watchdog's next look (50 ms)
        time.sleep(0.08)
        return OK

    with server(late) as (port, _):
        code, f, err = load_json(
            capsys, tmp_path, f"http://127.0.0.1:{port}/", "-n", "4", "-c", "4", "--timeout", "0.06"
        )
    assert code == 1 and "every request failed (timeout: 40)" in err, (f, err)  # 4 answers wanted, 10 tries each
    assert "200" not in f.get("statuses", {})


def test_an_open_loop_over_capacity_reports_the_latency_wrk2_would(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """One request at a time, 20 ms each (50 a second), asked 100 a second on 10 connections:
    latency grows with the queue (wrk2 measures this), never the 20 ms a closed loop sees."""
    with server(lambda n: OK, one_at_a_time=True) as (port, _):
        args = [f"http://127.0.0.1:{port}/", "--rate", "100", "-c", "10", "-d", "2"]
        code, f, err = load_json(capsys, tmp_path, *args)
    assert f["latency"]["p50_ms"] > 150, f["latency"]
    assert f["latency"]["max_ms"] > 600
    assert code == 1 and f["dropped"] > 0 and "were never sent" in err


def test_per_connection_keeps_a_queue_for_each_connection_as_wrk2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The first connection the load opens answers in 150 ms, any other at once; 20 requests a second
    on 2 connections. One queue for all: the fast connection takes what the slow one cannot, and
    latency stays near 150 ms. wrk2's schedule: every other request waits for the slow connection,
    which is asked 10 a second and serves 6.7: its queue grows, and so does the tail."""
    order = threading.local()  # the server runs a thread per connection
    ranks = iter(range(1_000_000))

    def answer(n: int) -> bytes:
        if not hasattr(order, "rank"):
            order.rank = next(ranks)  # 0: the first connection a request came on
        if order.rank == 0:
            time.sleep(0.15)
        return OK

    figures: dict[bool, dict[str, Any]] = {}
    for schedule in ([], ["--per-connection"]):
        with server(answer) as (port, _):
            ranks = iter(range(1_000_000))
            args = [f"http://127.0.0.1:{port}/", "--rate", "20", "-c", "2", "-d", "1.5", *schedule]
            _, f, err = load_json(capsys, tmp_path, *args)
        assert f["errors"] == {}, err
        figures[bool(schedule)] = f
    shared, lanes = figures[False]["latency"], figures[True]["latency"]
    assert shared["p99_ms"] < 300, shared
    assert lanes["p99_ms"] > 400 and lanes["p99_ms"] > 2 * shared["p99_ms"], (shared, lanes)
    assert figures[True]["connections"] == 2 and figures[True]["per_connection"]
    assert not figures[False]["per_connection"]


def test_per_connection_needs_a_rate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = load_json(capsys, tmp_path, "http://127.0.0.1:9/", "--per-connection")
    assert code == 2 and "--per-connection" in err and "--rate" in err and "Traceback" not in err


def test_threads_share_the_load_and_their_figures_merge(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with server(lambda n: OK) as (port, seen):
        code, f, err = load_json(capsys, tmp_path, f"http://127.0.0.1:{port}/", "-t", "2", "-n", "100", "-c", "4")
    assert code == 0, err
    assert f["requests"] == 100 == len(seen.requests) and f["statuses"] == {"200": 100} and f["connections"] == 4
    assert seen.connections == 5  # the listening check, then 2 connections in each of the 2 processes
    assert sum(s["requests"] for s in f["seconds"]) == 100


@pytest.mark.parametrize("exact_limit", [100_000, 50])
def test_merged_recorders_give_the_figures_of_all_their_samples(exact_limit: int) -> None:
    import random

    from bench.engine.load import Sample
    from bench.engine.load_recorder import LoadRecorder

    rng = random.Random(7)
    samples = [
        Sample(
            client=i,
            token="",
            sent=1000.0 + i * 0.001,
            first_byte=None,
            responded=1000.0 + i * 0.001 + rng.expovariate(200),
            status=200,
            pid=None,
            error=None,
        )
        for i in range(400)
    ]
    whole = LoadRecorder(exact_limit).add_all(samples)
    merged = LoadRecorder(exact_limit)
    for part in (samples[::2], samples[1::2]):
        merged.absorb(LoadRecorder(exact_limit).add_all(part).export())
    a = whole.figures("u", "closed", "raw", "uvloop", 1)
    b = merged.figures("u", "closed", "raw", "uvloop", 1)
    assert b.requests == a.requests == 400 and b.statuses == a.statuses
    assert a.latency is not None and b.latency is not None
    assert b.latency.max_ms == a.latency.max_ms and b.latency.min_ms == a.latency.min_ms
    assert b.latency.mean_ms == pytest.approx(a.latency.mean_ms, rel=1e-9)
    tolerance = 0 if exact_limit > 400 else 2e-3  # exact, or both from the histogram (3 digits)
    for q in ("p50_ms", "p90_ms", "p99_ms"):
        assert getattr(b.latency, q) == pytest.approx(getattr(a.latency, q), rel=tolerance, abs=1e-9)
    assert sum(s.requests for s in b.seconds) == 400
