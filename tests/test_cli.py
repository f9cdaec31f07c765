"""The ``bench`` command as a user meets it: output, exit codes, and what it leaves behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.results import save
from tests.factories import bench, run_document


def test_list_shows_scenarios_and_variants(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = bench("list", capsys=capsys)
    assert code == 0
    for name in (
        "four-tabs",
        "four-tabs-burst",
        "sync",
        "multi-worker",
        "background",
        "threadpool",
        "asyncio-task",
    ):
        assert name in out
    assert "--workers 2" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run", "five-tabs"], "unknown scenario 'five-tabs'; known: four-tabs, four-tabs-burst"),
        (["run", "four-tabs", "--variants", "sync,nope"], "unknown variant 'nope'"),
        (["show", "no-such-run"], "no run 'no-such-run'"),
        (["run", "four-tabs", "--scenarios", "/nonexistent/s.yaml"], "cannot read the scenarios file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], words: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = (
        bench(*args, "--out", str(tmp_path), capsys=capsys) if args[0] == "show" else bench(*args, capsys=capsys)
    )
    assert code == 2
    assert words in err
    assert len(err.strip().splitlines()) <= 2 and "Traceback" not in err
    assert out == ""


def test_invalid_scenarios_file_names_file_line_and_field(
    tmp_path: Path, scenarios_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text(scenarios_text.replace("clients: 4, gap: 0.3", "clients: -4, gap: 0.3", 1))
    code, _, err = bench("run", "four-tabs", "--scenarios", str(bad), capsys=capsys)
    assert code == 2
    assert err.startswith(f"error: {bad}:") and "load.clients" in err and "Traceback" not in err


def test_show_compare_export_read_saved_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(run_document("20260101-000000-four-tabs"), tmp_path / "20260101-000000-four-tabs")
    save(run_document("20260102-000000-four-tabs"), tmp_path / "20260102-000000-four-tabs")
    code, out, _ = bench("show", "--out", str(tmp_path), capsys=capsys)
    assert code == 0 and "20260102-000000-four-tabs" in out and "claims, checked" in out
    code, out, _ = bench(
        "compare",
        "20260101-000000-four-tabs",
        "20260102-000000-four-tabs",
        "--out",
        str(tmp_path),
        capsys=capsys,
    )
    assert code == 0 and "1.00×" in out
    code, out, _ = bench(
        "export", "20260101-000000-four-tabs", "--format", "csv", "--out", str(tmp_path), capsys=capsys
    )
    assert code == 0 and out.startswith("variant,client,token,sent_s")
    target = tmp_path / "run.md"
    code, _, _ = bench(
        "export",
        "20260101-000000-four-tabs",
        "--format",
        "markdown",
        "-o",
        str(target),
        "--out",
        str(tmp_path),
        capsys=capsys,
    )
    assert code == 0 and target.read_text().startswith("# four-tabs")
    code, _, err = bench(
        "export", "20260101-000000-four-tabs", "--format", "xml", "--out", str(tmp_path), capsys=capsys
    )
    assert code == 2 and "xml" in err


def run_bench(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.integration
def test_run_json_is_the_document_and_nothing_else(tmp_path: Path) -> None:
    result = run_bench(
        "run",
        "four-tabs",
        "--time-scale",
        "0.05",
        "--variants",
        "sync,background",
        "--json",
        "--out",
        str(tmp_path / "results"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["scenario"]["name"] == "four-tabs" and doc["time_scale"] == 0.05
    assert {"python", "cpu_count", "platform", "packages"} <= set(doc["environment"])
    assert doc["environment"]["packages"]["uvicorn"]
    sync, background = doc["variants"]
    d = 0.5
    assert 0.98 * 4 * d <= sync["summary"]["all_done_s"] <= 1.2 * 4 * d
    assert background["summary"]["response_p50_s"] < 0.1 * d
    assert [c["id"] for c in sync["claims"]] == ["1a", "1b"]
    saved = json.loads(next((tmp_path / "results").glob("*/run.json")).read_text())
    assert saved == doc


BROKEN_SCENARIOS = """
variants:
  broken:
    title: an app that fails at import
    app: "broken_app:app"
    work_slots: 1
    answers: after-work
  fine:
    title: a working variant
    app: "servers.asyncio_sleep:app"
    work_slots: unbounded
    answers: after-work
scenarios:
  mixed:
    title: one broken variant, one fine
    work: { seconds: 1 }
    load: { clients: 2 }
    variants: [broken, fine]
"""


@pytest.mark.integration
def test_a_server_that_fails_to_start_shows_its_log_and_the_others_still_run(tmp_path: Path) -> None:
    (tmp_path / "broken_app.py").write_text("raise RuntimeError('broken on purpose')\n")
    (tmp_path / "s.yaml").write_text(BROKEN_SCENARIOS)
    result = run_bench(
        "run",
        "mixed",
        "--scenarios",
        str(tmp_path / "s.yaml"),
        "--time-scale",
        "0.1",
        "--out",
        str(tmp_path / "results"),
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "broken did not run" in result.stdout and "broken on purpose" in result.stdout
    doc = json.loads(next((tmp_path / "results").glob("*/run.json")).read_text())
    broken, fine = doc["variants"]
    assert broken["status"] == "failed" and "broken on purpose" in broken["error"]
    assert fine["status"] == "ok" and fine["summary"]["ok"] == 2


@pytest.mark.integration
def test_a_taken_port_is_retried_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import socket

    import httpx

    from bench.lab import launcher

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        ports = iter([taken_port])
        real_free_port = launcher.free_port
        monkeypatch.setattr(launcher, "free_port", lambda: next(ports, None) or real_free_port())
        spec = launcher.ServerSpec(
            app="servers.asyncio_sleep:app",
            log_path=tmp_path / "server.log",
            env={"BENCH_LEDGER_DIR": str(tmp_path)},
        )

        async def start() -> int:
            async with launcher.serve(spec) as server:
                async with httpx.AsyncClient(trust_env=False) as client:
                    assert (await client.get(server.base_url + "/health")).status_code == 200
                return server.port

        port = asyncio.run(start())
    assert port != taken_port
    assert "address already in use" in (tmp_path / "server.log").read_text().lower()


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_everything_and_keeps_finished_variants(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "results"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "four-tabs",
            "--time-scale",
            "0.3",
            "--variants",
            "background,threadpool",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the first variant is saved and the second is loading
            runs = list(out.glob("*/run.json"))
            if runs and json.loads(runs[0].read_text())["variants"] and list(out.glob("*/threadpool/server.log")):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the first variant never finished")
        time.sleep(0.5)
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    doc = json.loads(next(out.glob("*/run.json")).read_text())
    assert doc["status"] == "interrupted"
    assert [v["name"] for v in doc["variants"]] == ["background"]
    # the autouse fixture then checks that no server outlived the run


@pytest.mark.integration
def test_run_with_the_httpx_client_and_an_open_loop_scenario(tmp_path: Path) -> None:
    result = run_bench(
        "run",
        "four-tabs-burst",
        "--time-scale",
        "0.05",
        "--variants",
        "asyncio",
        "--client",
        "httpx",
        "--json",
        "--out",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["scenario"]["scaled"]["client"] == "httpx"
    assert doc["variants"][0]["summary"]["ok"] == 4

    result = run_bench("run", "steady-rate", "--time-scale", "0.05", "--json", "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    for v in doc["variants"]:
        s = v["summary"]
        assert s["requests"] == 200 and s["ok"] == 200 and s["lost"] == 0 and s["dropped"] == 0
        assert s["response_min_s"] >= 0
        assert s["throughput_rps"] > 0
    background = next(v for v in doc["variants"] if v["name"] == "background")
    assert background["summary"]["response_p50_s"] < 0.05


def test_version_is_the_installed_one(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    code, out, _ = bench("--version", capsys=capsys)
    assert code == 0 and out.strip() == f"bench {version('concurrency-lab')}"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("bench run four", {"four-tabs", "four-tabs-burst"}),
        ("bench run four-tabs --variants sync,asyncio-", {"sync,asyncio-task"}),
        ("bench locust back", {"background", "background-100"}),
    ],
)
def test_shell_completion_knows_scenarios_and_variants(words: str, expected: set[str]) -> None:
    env = {
        **os.environ,
        "_BENCH_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
    }
    done = subprocess.run([sys.executable, "-m", "bench"], env=env, capture_output=True, text=True, timeout=60)
    offered = {line.split(",", 1)[1] for line in done.stdout.splitlines() if line.startswith("plain,")}
    assert offered == expected, done.stdout + done.stderr


def test_shell_completion_offers_run_ids_newest_first(tmp_path: Path) -> None:
    for run_id in ("20260101-000000-four-tabs", "20260102-000000-load"):
        (tmp_path / run_id).mkdir()
        (tmp_path / run_id / "run.json").write_text("{}")
    words = f"bench show --out {tmp_path} 2026"
    env = {**os.environ, "_BENCH_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": "4"}
    done = subprocess.run([sys.executable, "-m", "bench"], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["plain,20260102-000000-load", "plain,20260101-000000-four-tabs"]
