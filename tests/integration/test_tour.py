"""bench tour: the lessons in order, each a saved run, and one course page that links them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.integration
def test_a_short_tour_saves_each_lesson_and_links_it(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no Chromium on this PATH
    env.pop("BENCH_CHROMIUM", None)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "tour",
            "--time-scale",
            "0.05",
            "--lessons",
            "to-thread,browser-tabs",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "[1/2] to-thread" in out.stderr and "[2/2] browser-tabs" in out.stderr
    assert "browser-tabs: skipped: no Chromium found" in out.stdout.replace("\n", " ")
    (folder,) = tmp_path.iterdir()
    page = (folder / "course.html").read_text()
    links = re.findall(r"href='([^']+)'", page)
    assert links == ["to-thread/report.html"]
    assert (folder / links[0]).is_file()
    doc = json.loads((folder / "to-thread" / "run.json").read_text())
    assert doc["status"] == "complete" and [v["name"] for v in doc["variants"]] == ["threadpool", "to-thread"]
