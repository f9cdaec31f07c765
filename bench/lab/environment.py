"""What machine and software a run was measured on (saved with every run)."""

from __future__ import annotations

import functools
import os
import platform
import sys
from importlib import metadata

from bench.model.document import Environment
from bench.model.machine import Machine

PACKAGES = ("fastapi", "starlette", "uvicorn", "anyio", "uvloop", "httptools", "pydantic")


@functools.cache  # read from the installed metadata files: 5 ms a package, asked for several times a run
def installed_version(name: str) -> str | None:
    """The version of ``name`` installed in the harness's own environment; None if it is not."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine() -> Machine:
    """The machine as it is now: its CPUs, those this process may use, its load average."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    try:
        load1: float | None = os.getloadavg()[0]
    except OSError:
        load1 = None
    return Machine(cpu_count=os.cpu_count(), cpus_usable=usable, load1=load1)


def capture() -> Environment:
    facts = machine()
    return Environment(
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        platform=platform.platform(),
        machine=platform.machine(),
        cpu_count=facts.cpu_count,
        cpus_usable=facts.cpus_usable,
        packages={name: installed_version(name) for name in PACKAGES},
        executable=sys.executable,
        prefix=sys.prefix,
    )
