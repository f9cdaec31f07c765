"""The check that runs after every integration test must itself be able to fail."""

from __future__ import annotations

import os
import subprocess
import time

from bench.engine.owners import OWNER_ENV, owner_mark
from tests.conftest import leftover_processes


def test_a_process_the_harness_started_is_seen_until_stopped() -> None:
    env = {**os.environ, OWNER_ENV: owner_mark()}
    proc = subprocess.Popen(["sleep", "30"], env=env)
    try:
        deadline = time.monotonic() + 5  # until exec, /proc shows the parent's environment
        while not any(line.startswith(f"{proc.pid}:") for line in leftover_processes()):
            assert time.monotonic() < deadline, "the marked process was never seen"
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait()
    assert not any(line.startswith(f"{proc.pid}:") for line in leftover_processes())
