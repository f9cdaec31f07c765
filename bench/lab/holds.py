"""The loop watchdog in a real run: how the server is wrapped (``bench.lab.watched``), and what it saw.

Every variant's web server runs under the watchdog; each worker process writes its holds
of the event loop to ``watchdog-PID.jsonl`` in the variant's folder. After the run they are
read back and summed per place (``bench.model.holds``): what held the loop, where, how many
times and how long.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from bench.lab import interpreter, watched
from bench.model.holds import LoopHeld, summarise
from bench.model.scenario import OwnApp


@dataclass(frozen=True)
class Watched:
    wrapper: str
    env: dict[str, str]


def watched_env(own: OwnApp | None, app: str, app_dir: Path, folder: Path) -> Watched:
    """What serves ``app`` under the watchdog: the wrapper's import string and its environment.
    The learner's frames are those under ``app_dir`` (an own app's folder), or the lab's servers."""
    env = {
        watched.WATCHED_APP: app,
        watched.WATCHED_FACTORY: "1" if own is not None and own.factory else "0",
        watched.WATCHDOG_LOG: str(folder.resolve()),
        watched.WATCHDOG_FOLDERS: str((app_dir if own is not None else app_dir / "servers").resolve()),
    }
    if own is None:
        return Watched("bench.lab.watched:app", env)
    # an own app: handed a copy under a name of its own, so that a learner's bench/ package
    # (first on uvicorn's --app-dir) is never taken for the harness's, whatever Python runs it
    found = own.interpreter or interpreter.harness()
    handed = interpreter.handed(found, (folder / "handed").resolve())
    path = [str(handed), os.environ.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    return Watched(f"{interpreter.CHILD_PACKAGE}.watched:app", env)


def read(folder: Path, requests: int, since: float | None) -> list[LoopHeld]:
    """Every worker's holds of the loop in ``folder`` from ``since`` (the load's first request,
    wall clock: an own app's request alone before the load is not the load's), summed per
    place (a line cut short by a kill is skipped)."""
    lines = []
    for path in sorted(folder.glob(watched.LOG_PATTERN)):
        for text in path.read_text(errors="replace").splitlines():
            try:
                hold = json.loads(text)
            except ValueError:
                continue
            if isinstance(hold, dict) and (since is None or hold.get("at", 0) >= since - EARLY_S):
                lines.append(hold)
    return summarise(lines, requests)


EARLY_S = 0.05  # a hold noted a beat before the first request was sent is still the load's
