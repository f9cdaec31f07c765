"""Nothing the lab installs or runs can be taken for a learner's package, nor theirs for it.

A learner's folder may hold its own ``servers/`` or ``bench/`` package: the lab's servers,
its watchdog, its Celery worker and its diagnosis must still be the lab's, and the wheel
must install one import package only."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.factories import ROOT, uv_bin

BENCH = str(Path(sys.executable).parent / "bench")  # the command a user types (python -m would look in cwd first)
DECOY = "raise ImportError('this is the learner\\'s own {name} package, not the lab\\'s')\n"


def test_a_learners_servers_and_bench_packages_do_not_collide(tmp_path: Path) -> None:
    folder = tmp_path / "learner"
    for name in ("servers", "bench"):
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(DECOY.format(name=name))
    (folder / "app.py").write_text(
        "import asyncio\n\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get('/push/{token}')\n"
        "async def push(token: str):\n    await asyncio.sleep(0.2)\n"
        "    with open('notification.log', 'a') as log:\n        log.write(f'{token}\\n')\n    return {}\n"
    )
    lab = subprocess.run(
        [BENCH, "run", "four-tabs", "--variants", "asyncio", "--time-scale", "0.05",
         "--json", "--out", str(tmp_path / "r")],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert lab.returncode == 0, lab.stderr
    assert json.loads(lab.stdout)["variants"][0]["summary"]["lost"] == 0
    own = subprocess.run(
        [BENCH, "run", "four-tabs", "--app", "app.py:app", "--time-scale", "0.1",
         "--json", "--out", str(tmp_path / "r")],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert own.returncode == 0, own.stderr
    (v,) = json.loads(own.stdout)["variants"]
    assert v["summary"]["lost"] == 0 and "awaits" in v["strategy"]


def test_the_wheel_installs_one_import_package_with_the_servers_inside(tmp_path: Path) -> None:
    built = subprocess.run(  # the same backend (hatchling) as pip's build, in 1 s rather than 7
        [uv_bin(), "build", "--wheel", "-q", "--out-dir", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("concurrency_lab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert tops == {"bench"}
    assert "bench/servers/sync.py" in names and "bench/scenarios.yaml" in names and "bench/lab/diagnose.py" in names
