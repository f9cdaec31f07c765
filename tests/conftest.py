"""Shared fixtures. The key one: after every test, no server the harness started is left."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.engine.processes import marked_processes, owner_alive, owner_mark
from tests.factories import ROOT

INTEGRATION = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration/ starts real servers: marked so, by its folder."""
    for item in items:
        if INTEGRATION in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)


def leftover_processes() -> list[str]:
    """Processes started by the harness whose owner is this test process or is gone."""
    mine = owner_mark()
    return [
        f"{m.pid}: {m.command}"
        for m in marked_processes()
        if not _zombie(m.pid) and (m.owner == mine or not owner_alive(m.owner))
    ]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture(autouse=True)
def nothing_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if request.node.get_closest_marker("integration"):
        left = leftover_processes()
        assert not left, f"processes left running after the test: {left}"


@pytest.fixture
def scenarios_text() -> str:
    return (ROOT / "scenarios.yaml").read_text()
