#!/usr/bin/env python3
"""Make (once) a virtual environment with the tutorial's pinned versions, and print its python.

``fastapi==0.95.0 uvicorn==0.21.1`` bring pydantic 1: a learner's project environment the
lab must measure without sharing it. The docs' capture runs
``bench check examples/bg_listing.py:app --python "$(python3 examples/tutorial_venv.py)"``.
The environment lives in ~/.cache/concurrency-lab/tutorial-venv; delete it to start again.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

PINNED = ("fastapi==0.95.0", "uvicorn==0.21.1")
FOLDER = Path.home() / ".cache" / "concurrency-lab" / "tutorial-venv"


def main() -> int:
    python = FOLDER / "bin" / "python"
    if not python.exists():
        print(f"making {FOLDER} with {' '.join(PINNED)}", file=sys.stderr)
        venv.create(FOLDER, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINNED], check=True, stdout=sys.stderr)
    print(python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
