"""Warnings about how fair and how quiet a measurement was: a typed list, shown with the run.

- unequal budgets: variants compared with different capacity (processes, threads, Celery
  workers), so a faster figure may only mean more resources;
- a busy machine: the load average when a variant started was high for the cores there
  are, so figures may be slower than the machine can do;
- shared cores: the load generator, the servers (and their workers) share this machine's
  cores, which matters for CPU-bound work and high request rates.
"""

from __future__ import annotations

from bench import contract
from bench.model.document import VariantResult
from bench.model.machine import Machine

BUSY_LOAD_PER_CPU = 0.75


def busy_machine(name: str, machine: Machine) -> str | None:
    """Checked as a variant starts (``machine`` read then): is something else keeping the cores busy?"""
    load1, cpus = machine.load1, machine.cpus_usable
    if load1 is not None and load1 > BUSY_LOAD_PER_CPU * cpus:
        return (
            f"{name}: the machine was busy as it started (load average {load1:.1f} on "
            f"{cpus} CPUs); its figures may be slower than this machine can do"
        )
    return None


def unequal_budgets(variants: list[VariantResult]) -> str | None:
    budgets: dict[str, list[str]] = {}
    for v in variants:
        c = v.capacity
        key = f"{c.workers} web worker(s)"
        if c.celery_concurrency:
            key += f" + {c.celery_concurrency} Celery process(es)"
        if c.thread_limit and c.thread_limit != contract.ANYIO_DEFAULT_THREADS:
            key += f", {c.thread_limit} threads"
        budgets.setdefault(key, []).append(v.name)
    if len(budgets) < 2:
        return None
    listing = "; ".join(f"{', '.join(names)}: {key}" for key, names in budgets.items())
    return f"the variants did not have equal budgets ({listing}): compare what each strategy buys for what it is given"


def shared_cores(kind: str, pattern: str, machine: Machine) -> str | None:
    cpus = machine.cpus_usable
    if kind == "cpu" or (pattern != "burst" and cpus <= 4):
        return (
            f"the load generator and the servers share this machine's {cpus} CPUs: "
            "CPU-bound work and high request rates compete with the measuring client"
        )
    return None
