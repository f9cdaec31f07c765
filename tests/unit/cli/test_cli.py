"""The ``bench`` command as a user meets it: output, exit codes, and what it leaves behind."""

from __future__ import annotations

import os
import subprocess
import sys
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
