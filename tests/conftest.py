"""Shared fixtures. The key one: after every test, no server the harness started is left."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.launcher import OWNER_ENV


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leftover_processes() -> list[str]:
    """Processes started by the harness whose owner is this test process or is gone."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue  # already dead, waiting to be reaped
        for entry in environ:
            if entry.startswith(OWNER_ENV.encode() + b"="):
                owner = int(entry.split(b"=", 1)[1] or 0)
                if owner == os.getpid() or not _alive(owner):
                    found.append(f"{proc.name}: {cmdline.strip()}")
    return found


@pytest.fixture(autouse=True)
def nothing_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if request.node.get_closest_marker("integration"):
        left = leftover_processes()
        assert not left, f"processes left running after the test: {left}"


@pytest.fixture
def scenarios_text() -> str:
    return (Path(__file__).resolve().parent.parent / "scenarios.yaml").read_text()
