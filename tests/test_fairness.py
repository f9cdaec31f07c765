from __future__ import annotations

import pytest

from bench.model import fairness
from tests.factories import variant_result


def test_unequal_budgets_are_named() -> None:
    same = [variant_result("a", [1.0]), variant_result("b", [1.0])]
    assert fairness.unequal_budgets(same) is None
    more = [variant_result("a", [1.0]), variant_result("b", [1.0], workers=2)]
    warning = fairness.unequal_budgets(more)
    assert warning is not None and "a: 1 web worker(s)" in warning and "b: 2 web worker(s)" in warning


def test_a_busy_machine_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fairness, "usable_cpus", lambda: 2)
    monkeypatch.setattr("os.getloadavg", lambda: (5.0, 1.0, 1.0))
    warning = fairness.busy_machine("sync")
    assert warning is not None and "load average 5.0 on 2 CPUs" in warning
    monkeypatch.setattr("os.getloadavg", lambda: (0.2, 1.0, 1.0))
    assert fairness.busy_machine("sync") is None


def test_shared_cores_matter_for_cpu_work_and_high_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fairness, "usable_cpus", lambda: 2)
    assert fairness.shared_cores("cpu", "burst") is not None
    assert fairness.shared_cores("sleep", "open") is not None
    assert fairness.shared_cores("sleep", "burst") is None
