"""Both sides of the process boundary agree, through ``bench.contract`` and nothing else."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import contract
from bench.engine.http import PID_HEADER
from bench.lab.ledger import LedgerReader, MarkerReader
from tests.factories import ROOT

# Values that must be written in bench/contract.py only. The route as the servers declare it
# stays in their listings (they read like the tutorial's), and is checked on the apps instead.
SINGLE_SOURCE = {
    value: name
    for name, value in vars(contract).items()
    if name.isupper() and isinstance(value, str) and name not in ("PUSH_ROUTE", "HEALTH_PATH")
}


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module's code, docstrings and comments left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_side_writes_a_contract_value_by_hand() -> None:
    written = [
        f"{path.relative_to(ROOT)}:{line}: {value!r} is contract.{SINGLE_SOURCE[value]}"
        for folder in ("bench", "servers")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != ROOT / "bench" / "contract.py"
        for line, value in _string_constants(path)
        if value in SINGLE_SOURCE
    ]
    assert not written, "\n".join(written)


def test_the_finder_finds_a_value_written_by_hand(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""Writes ledger.jsonl."""\nNAME = "ledger.jsonl"\n')
    assert _string_constants(module) == [(2, "ledger.jsonl")]  # the docstring does not count


@pytest.mark.parametrize("module", ["sync", "threadpool", "background", "asyncio_sleep", "asyncio_task", "to_thread"])
def test_every_server_declares_the_routes_the_harness_fills(module: str) -> None:
    app = __import__(f"servers.{module}", fromlist=["app"]).app
    paths = {route.path for route in app.routes}
    assert {contract.PUSH_ROUTE, contract.HEALTH_PATH} <= paths
    assert contract.PUSH_PATH.replace("{token}", "{device_token}") == contract.PUSH_ROUTE


def test_a_server_process_and_the_harness_read_the_same_names(tmp_path: Path) -> None:
    """A lab server in a process of its own, set up by the contract's variables: its answer
    carries the pid header the client reads, and its ledger is where the reader looks."""
    script = (
        "import json, sys\n"
        "from starlette.testclient import TestClient\n"
        "from servers.sync import app\n"
        "with TestClient(app) as client:\n"
        "    r = client.get('/push/tok-1')\n"
        "print(json.dumps({'status': r.status_code, 'headers': dict(r.headers)}))\n"
    )
    env = {
        **os.environ,
        contract.WORK_KIND: "sleep",
        contract.WORK_SECONDS: "0.01",
        contract.LEDGER_DIR: str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200
    assert answer["headers"][PID_HEADER.decode()].isdigit()
    records = LedgerReader(tmp_path / contract.LEDGER_FILE).read_new()
    assert [r.token for r in records] == ["tok-1"]
    marker = MarkerReader(tmp_path / contract.HUMAN_LOG_FILE, "{token}", lambda token: token == "tok-1")
    assert [r.token for r in marker.read_new()] == ["tok-1"]
