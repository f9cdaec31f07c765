"""``bench locust``: headless, web UI through Locust's own HTTP API, and distributed mode."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bench.locust.run import LocustOptions, commands, histogram_percentile, locust_summary
from bench.locust.tokens import sent_at as token_sent_at
from tests.factories import bench


def test_tokens_carry_their_send_time() -> None:
    assert token_sent_at("l1795486741439800-abc1231") == pytest.approx(1795486741.4398)
    assert token_sent_at("tab1-abcd") is None and token_sent_at("lxyz-1") is None


def test_histogram_percentile_as_locust_counts() -> None:
    times = {"1": 50, "2": 40, "10": 9, "100": 1}
    assert histogram_percentile(times, 0.5) == 1
    assert histogram_percentile(times, 0.9) == 2
    assert histogram_percentile(times, 0.99) == 10
    assert histogram_percentile(times, 1.0) == 100
    assert histogram_percentile({}, 0.5) is None


def test_commands_bind_to_loopback_and_wire_the_workers(tmp_path: Path) -> None:
    ui = commands(LocustOptions(False, 1, 1, 1, 0, 8089), "http://127.0.0.1:5", tmp_path / "s.json", 5557)
    assert len(ui) == 1 and "--web-host" in ui[0] and ui[0][ui[0].index("--web-host") + 1] == "127.0.0.1"
    dist = commands(LocustOptions(True, 4, 2, 3, 2, 8089), "http://127.0.0.1:5", tmp_path / "s.json", 5557)
    master, *workers = dist
    assert len(workers) == 2 and "--master" in master and "--headless" in master
    assert master[master.index("--master-bind-host") + 1] == "127.0.0.1"
    assert all("--worker" in w and w[w.index("--master-port") + 1] == "5557" for w in workers)


def test_summary_joins_locust_figures_and_the_ledger() -> None:
    from bench.lab.ledger import WorkRecord

    push = {
        "name": "/push/[token] x",
        "num_requests": 3,
        "num_failures": 0,
        "start_time": 100.0,
        "last_request_timestamp": 101.0,
        "min_response_time": 1.0,
        "max_response_time": 3.0,
        "response_times": {"1": 1, "2": 1, "3": 1},
    }
    work = [
        WorkRecord(f"l{100_000_000 + i * 100_000}-a{i}", 100.0 + i * 0.1, 100.5 + i * 0.1, 9, "T") for i in range(2)
    ]
    summary, records = locust_summary(push, work, started=99.0)
    assert summary.requests == 3 and summary.ok == 3
    assert summary.lost == 1  # three answered, two recorded done
    assert summary.done_time_p50_s == pytest.approx(0.5)
    assert summary.response_p50_s == pytest.approx(0.002)
    assert [r.sent_s for r in records] == pytest.approx([0.0, 0.1])


def test_unknown_variant_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = bench("locust", "nope", capsys=capsys)
    assert code == 2 and "unknown variant 'nope'; known: sync, multi-worker" in err


def test_ui_port_in_use_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = bench("locust", "asyncio", "--port", str(port), capsys=capsys)
    assert code == 2 and f"port {port} on 127.0.0.1 is already in use" in err
