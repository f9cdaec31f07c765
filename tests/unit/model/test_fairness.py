from __future__ import annotations

from bench.model import fairness
from bench.model.machine import Machine
from tests.factories import variant_result


def test_unequal_budgets_are_named() -> None:
    same = [variant_result("a", [1.0]), variant_result("b", [1.0])]
    assert fairness.unequal_budgets(same) is None
    more = [variant_result("a", [1.0]), variant_result("b", [1.0], workers=2)]
    warning = fairness.unequal_budgets(more)
    assert warning is not None and "a: 1 web worker(s)" in warning and "b: 2 web worker(s)" in warning


def test_a_busy_machine_is_reported() -> None:
    warning = fairness.busy_machine("sync", Machine(cpu_count=2, cpus_usable=2, load1=5.0))
    assert warning is not None and "load average 5.0 on 2 CPUs" in warning
    assert fairness.busy_machine("sync", Machine(cpu_count=2, cpus_usable=2, load1=0.2)) is None


def test_shared_cores_matter_for_cpu_work_and_high_rates() -> None:
    two = Machine(cpu_count=2, cpus_usable=2)
    assert fairness.shared_cores("cpu", "burst", two) is not None
    assert fairness.shared_cores("sleep", "open", two) is not None
    assert fairness.shared_cores("sleep", "burst", two) is None
