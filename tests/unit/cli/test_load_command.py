"""``bench load``: the loopback guard, the figures, and the JSON shape."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.engine.load import Sample
from bench.engine.load_recorder import figures
from bench.engine.target import parse_target
from bench.errors import BenchError
from bench.model.load import histogram, latency_of
from tests.factories import bench


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("http://127.0.0.1:8000/x", "127.0.0.1", 8000),
        ("localhost:9000", "127.0.0.1", 9000),  # connected to by address: no name lookup
        ("http://[::1]:80/", "::1", 80),
        ("http://127.9.9.9/", "127.9.9.9", 80),
    ],
)
def test_loopback_targets_are_allowed(url: str, host: str, port: int) -> None:
    target = parse_target(url)
    assert (target.host, target.port) == (host, port)


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("http://example.com/", "example.com", 80),
        ("http://10.0.0.1/", "10.0.0.1", 80),
        ("http://192.168.1.2:8000/", "192.168.1.2", 8000),
    ],
)
def test_remote_targets_are_refused_unless_allowed(
    url: str, host: str, port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(BenchError, match="not a loopback address"):
        parse_target(url)
    allowed = parse_target(url, allow_remote=True)
    assert (allowed.host, allowed.port) == (host, port)
    code, out, err = bench("load", url, "-n", "1", capsys=capsys)
    assert code == 2 and "--allow-remote" in err and out == ""


@pytest.mark.parametrize("url", ["https://127.0.0.1/", "http://127.0.0.1:99999/"])
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(BenchError):
        parse_target(url)


def test_figures_of_known_samples() -> None:
    samples = [Sample(i, "", 100.0 + i, None, 100.0 + i + (i + 1) / 1000, 200, None, None) for i in range(10)]
    samples.append(Sample(10, "", 200.0, None, None, None, None, "timeout"))
    samples.append(Sample(11, "", 200.0, None, None, None, None, "dropped"))
    f = figures(samples, "http://x/", "closed", "raw", "uvloop", 4)
    assert f.requests == 10 and f.errors == {"timeout": 1} and f.dropped == 1
    assert f.statuses == {"200": 10}
    assert f.latency is not None
    assert f.latency.min_ms == pytest.approx(1.0) and f.latency.max_ms == pytest.approx(10.0)
    assert f.latency.p50_ms == pytest.approx(5.5) and f.latency.p99_9_ms == pytest.approx(9.991)
    assert sum(b.count for b in f.histogram) == 10


def test_histogram_and_latency_edge_cases() -> None:
    assert histogram([]) == [] and latency_of([]) is None
    single = histogram([0.001, 0.001])
    assert len(single) == 1 and single[0].count == 2


@contextmanager
def raw_server(answer: bytes, whole: bool = False) -> Iterator[tuple[int, list[bytes]]]:
    """A loopback server in a thread: reads one request per connection, records its first
    line (``whole``: every byte of it), sends ``answer`` (b"": none) and closes."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.settimeout(0.05)  # so that the thread sees ``stop`` soon
    lines: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = conn.recv(65536)
                if whole and not data:
                    continue  # bench load's check that something listens: a connection, no request
                lines.append(data if whole else data.split(b"\r\n", 1)[0])
                if answer:
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], lines
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def test_nothing_listening_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.engine.processes import free_port

    port = free_port()
    code, out, err = bench("load", f"http://127.0.0.1:{port}/", "-d", "1", capsys=capsys)
    assert (code, out) == (1, "")
    assert err.strip() == f"nothing is listening on 127.0.0.1:{port}: connection refused"


def test_every_request_failed_is_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with raw_server(b"") as (port, _):  # accepts, reads, hangs up without an answer
        code, _, err = bench(
            "load", f"http://127.0.0.1:{port}/", "-n", "20", "-c", "2", "--out", str(tmp_path), capsys=capsys
        )
    assert code == 1
    assert "every request failed (closed: 200)" in err and "Traceback" not in err  # -n counts answers: 10 tries each


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("/a b", b"GET /a%20b HTTP/1.1"),
        ("/caf\u00e9?q=\u00fc x&y=%41", b"GET /caf%C3%A9?q=%C3%BC%20x&y=%41 HTTP/1.1"),
        ("/p?x=1#fragment", b"GET /p?x=1 HTTP/1.1"),
    ],
)
def test_urls_are_percent_encoded_never_a_malformed_request_line(
    path: str, sent: bytes, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    with raw_server(ok) as (port, lines):
        url = f"http://127.0.0.1:{port}{path}"
        code, _, err = bench("load", url, "-n", "1", "-c", "1", "--out", str(tmp_path), capsys=capsys)
    assert code == 0, err
    assert sent in lines  # the first connection is the listening check, which sends nothing


def test_beyond_the_exact_limit_percentiles_stay_within_the_stated_precision() -> None:
    import random

    from bench.engine.load_recorder import PRECISION_NOTE, LatencyRecorder
    from bench.model.metrics import percentile

    rng = random.Random(7)
    values = [rng.lognormvariate(-6, 1.2) for _ in range(50_000)]  # ~2.5 ms median, a long tail
    recorder = LatencyRecorder(exact_limit=1_000)
    for v in values:
        recorder.add(v)
    assert not recorder.exact and len(recorder) == len(values) and "0.1 %" in PRECISION_NOTE
    lat = recorder.latency()
    assert lat is not None
    ms = [v * 1000 for v in values]
    for q, got in ((50, lat.p50_ms), (90, lat.p90_ms), (99, lat.p99_ms), (99.9, lat.p99_9_ms)):
        want = percentile(ms, q)
        assert abs(got - want) <= 0.001 * want + 0.002, (q, got, want)  # 0.1 %, and the 1 µs unit
    assert lat.min_ms == pytest.approx(min(ms)) and lat.max_ms == pytest.approx(max(ms))
    assert lat.mean_ms == pytest.approx(sum(ms) / len(ms))
    assert sum(b.count for b in recorder.buckets()) == len(values)
    assert len(recorder.values) < 65_536  # what is held per sample is bounded


def test_seconds_count_every_answer_and_give_each_second_its_exact_p99() -> None:
    from bench.engine.load import Sample
    from bench.engine.load_recorder import LoadRecorder
    from bench.model.metrics import percentile

    samples = [Sample(1, "", t / 100, None, t / 100 + 0.001 * (1 + t % 7), 200, 1, None) for t in range(350)]
    samples.append(Sample(2, "", 1.5, None, None, None, None, "timeout"))
    figures = LoadRecorder(exact_limit=50).add_all(samples).figures("u", "closed", "raw", "asyncio", 2)
    assert [s.at_s for s in figures.seconds] == [0.0, 1.0, 2.0, 3.0]
    assert sum(s.requests for s in figures.seconds) == 350 and sum(s.errors for s in figures.seconds) == 1
    first = [s.responded - s.sent for s in samples[:100] if s.responded is not None and s.responded < 1.0]
    assert figures.seconds[0].requests == len(first)
    assert figures.seconds[0].p99_ms == pytest.approx(percentile(first, 99) * 1000)
    assert figures.curve[0].percentile == 0.0 and figures.curve[-1].percentile == 100.0
    assert figures.curve[-1].ms == pytest.approx(max(s.responded - s.sent for s in samples[:350]) * 1000)


@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=1, max_size=300))
def test_the_top_percentile_is_the_percentile(values: list[float]) -> None:
    from bench.model.load import top_percentile
    from bench.model.metrics import percentile

    assert top_percentile(values, 99.0) == pytest.approx(percentile(values, 99.0), abs=1e-9)


CLOSE_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def test_a_post_with_headers_and_a_body_reaches_the_server_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with raw_server(CLOSE_OK, whole=True) as (port, requests):
        code, out, err = bench(
            "load", f"http://127.0.0.1:{port}/notify/7?x=1", "-n", "3", "-c", "1", "-m", "post",
            "-H", "X-Trace: abc", "-H", "Authorization: Bearer t0k", "--body", '{"email": "a@b.c"}',
            "--json", "--out", str(tmp_path), capsys=capsys,
        )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["requests"] == 3
    body = b'{"email": "a@b.c"}'
    expected = (
        f"POST /notify/7?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench\r\n"
        "X-Trace: abc\r\nAuthorization: Bearer t0k\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    assert requests == [expected] * 3
    saved = json.loads(next(tmp_path.glob("*-load/run.json")).read_text())
    assert "--method POST" in saved["command"] and "--header 'X-Trace: abc'" in saved["command"]


def test_a_body_from_a_file_with_its_content_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    form = tmp_path / "form.txt"
    form.write_bytes(b"email=a%40b.c&n=\xff")
    with raw_server(CLOSE_OK, whole=True) as (port, requests):
        code, _, err = bench(
            "load", f"http://127.0.0.1:{port}/f", "-n", "1", "-m", "PUT", "--body-file", str(form),
            "--content-type", "application/x-www-form-urlencoded", "--out", str(tmp_path), capsys=capsys,
        )  # fmt: skip
    assert code == 0, err
    (request,) = requests
    assert request.startswith(b"PUT /f HTTP/1.1\r\n")
    assert b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 17\r\n\r\n" in request
    assert request.endswith(b"\r\n\r\nemail=a%40b.c&n=\xff")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-H", "X-Evil: a\r\nX-Injected: 1"], "line break"),
        (["-H", "no colon"], "'Name: value'"),
        (["-H", "Host: elsewhere"], "writes Host itself"),
        (["-m", "HEAD"], "one of GET, POST"),
        (["-m", "GE T"], "one of GET, POST"),
        (["--body", "x", "--body-file", "pyproject.toml"], "one of the two"),
        (["--content-type", "a\nb", "--body", "x"], "line break"),
    ],
)
def test_a_request_that_could_not_be_sent_as_typed_is_refused_in_one_line(
    args: list[str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = bench("load", "http://127.0.0.1:1/x", *args, "--out", str(tmp_path), capsys=capsys)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.iterdir())  # refused before anything started or was saved


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/push/{token}\r\nX-Evil: injected", "no spaces or control characters"),
        ("push/{token}", "a path starts with /"),
        ("/push/ {token}", "no spaces or control characters"),
    ],
)
def test_an_own_apps_path_that_could_inject_is_refused_before_anything_starts(
    path: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = bench("check", "examples/sync_listing.py:app", "--path", path, capsys=capsys)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_a_non_ascii_path_is_percent_encoded_for_the_wire() -> None:
    from bench.lab.ownapp import AppSettings, parse_app_option

    _, own = parse_app_option("examples/sync_listing.py:app", AppSettings(path="/push/ünï{token}?q=é"))
    assert own.path == "/push/%C3%BCn%C3%AF{token}?q=%C3%A9"
