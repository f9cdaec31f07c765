"""The facts of the machine that the theory and the fairness warnings need, passed in.

The model reads nothing of the machine itself: the lab reads these once
(``bench.lab.environment.machine``) and hands them down, so the same figures come out
of the same facts on any machine, and a test can state the machine it means.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Machine:
    cpu_count: int | None  # os.cpu_count(): what ThreadPoolExecutor sizes itself by
    cpus_usable: int  # the CPUs this process may run on (its affinity): what CPU-bound work gets
    load1: float | None = None  # the 1-minute load average when it was read; None where unknown


def default_executor_threads(cpu_count: int | None) -> int:
    """asyncio's default executor (``to_thread``, ``run_in_executor(None)``): ThreadPoolExecutor's
    default size, min(32, CPUs + 4) (Python's concurrent.futures documentation)."""
    return min(32, (cpu_count or 1) + 4)
