"""Your own app in your own environment: the tutorial's pinned versions (fastapi 0.95.0,
uvicorn 0.21.1, pydantic 1) in a venv of their own, on an older Python, measured by a lab
installed elsewhere; and a newer Python given with --python. Nothing is installed into the
learner's environment and nothing is written beside the app."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import bench_here as bench
from tests.factories import near_theory, uv_bin

PYENV = Path.home() / ".pyenv" / "versions"
LISTING = """import time

from fastapi import BackgroundTasks, FastAPI

app = FastAPI()


def send_push_notification(device_token: str):
    time.sleep(1)  # a slow call to a push service
    with open("notification.log", mode="a") as notification_log:
        notification_log.write(f"Successfully sent push notification to {device_token}\\n")


@app.get("/push/{device_token}")
async def notify(device_token: str, background_tasks: BackgroundTasks):
    background_tasks.add_task(send_push_notification, device_token)
    return {"message": "Notification sent"}
"""


def _python(version: str) -> str:
    """A Python of that minor version on this machine (pyenv's, or on PATH); the harness's if none."""
    found = sorted(PYENV.glob(f"{version}.*/bin/python")) if PYENV.is_dir() else []
    return str(found[-1]) if found else shutil.which(f"python{version}") or sys.executable


def _venv(folder: Path, python: str, *packages: str) -> Path:
    """A venv made by ``python -m venv``, as the learner makes it, with ``packages`` installed by uv
    (``uv pip install --python``): pip took 11-24 s of the suite's CPU for each, uv takes about 1 s,
    and the learner's venv needs no installer of its own for the harness."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    installed = subprocess.run(
        [uv_bin(), "pip", "install", "-q", "--python", str(folder / "bin" / "python"), *packages],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    return folder / "bin" / "python"


@pytest.fixture(scope="session")
def pinned_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tutorial's pair, built once for the test run."""
    return _venv(tmp_path_factory.mktemp("venvs") / "tutorial", _python("3.10"), "fastapi==0.95.0", "uvicorn==0.21.1")


def test_the_tutorials_pinned_versions_in_their_own_venv(pinned_venv: Path, tmp_path: Path) -> None:
    project = tmp_path / "tutorial"
    project.mkdir()
    (project / "background_tasks.py").write_text(LISTING)
    (project / ".venv").symlink_to(pinned_venv.parent.parent)  # the venv beside the app, as the tutorial makes it
    before = sorted(p.name for p in project.iterdir())
    check = bench("check", "background_tasks.py:app", cwd=project)
    assert check.returncode == 0, check.stderr
    assert "found beside your app" in check.stderr and "fastapi 0.95.0, uvicorn 0.21.1, pydantic 1." in check.stderr
    assert "waits in anyio's thread pool" in check.stdout
    # the harness in the test's process (bench_here): the app's own interpreter is the learner's all the same
    out = bench("run", "four-tabs", "--time-scale", "0.1", "--json", "--out", str(tmp_path / "r"),
                "--app", "background_tasks.py:app", cwd=project)  # fmt: skip
    assert out.returncode == 0, out.stderr
    (v,) = json.loads(out.stdout)["variants"]
    assert v["interpreter"]["packages"]["fastapi"] == "0.95.0" and v["interpreter"]["packages"]["pydantic"][0] == "1"
    assert v["summary"]["lost"] == 0 and v["summary"]["ok"] == 4
    near_theory(v["summary"]["all_done_s"], v["expected"]["all_done_s"])
    assert sorted(p.name for p in project.iterdir() if p.name != "__pycache__") == before  # nothing written there


def test_a_python_given_with_its_path_and_one_without_uvicorn(tmp_path: Path) -> None:
    project = tmp_path / "newer"
    project.mkdir()
    (project / "app.py").write_text(LISTING.replace("time.sleep(1)", "time.sleep(0.2)"))
    newer = _venv(tmp_path / "v313", _python("3.13"), "fastapi", "uvicorn")
    check = bench("check", "app.py:app", "--python", str(newer), "--json", cwd=project)
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["diagnosis"]["status"] == 200
    bare = tmp_path / "bare"
    subprocess.run([_python("3.13"), "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    refused = bench("check", "app.py:app", "--python", str(bare / "bin" / "python"), cwd=project)
    assert refused.returncode == 2 and "has no uvicorn" in refused.stderr and len(refused.stderr.splitlines()) == 1
