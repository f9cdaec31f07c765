"""The check that skips a CPU-timing test on a busy machine must itself see a busy machine."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import BUSY_LIMIT, others_busy


def test_other_work_on_every_cpu_is_seen_as_busy() -> None:
    spinners = [
        subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 3\nwhile time.time() < end: pass"])
        for _ in range(2)
    ]
    try:
        busy = others_busy(0.4)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert busy is not None and busy > BUSY_LIMIT
