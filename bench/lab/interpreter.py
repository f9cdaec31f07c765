"""The learner's own Python, apart from the harness's: found, probed, and handed what the diagnosis needs.

A learner's project has its own virtual environment and versions (the tutorial pins
``fastapi==0.95.0 uvicorn==0.21.1``, which bring pydantic 1). The harness never runs the
learner's code in its own interpreter, where those versions would break ``bench`` itself,
and installs nothing into the learner's: uvicorn and the diagnosis run under the learner's
``python``, and the diagnosis's few modules (standard library, plus blockbuster and
forbiddenfruit, both pure Python) are handed to it on ``PYTHONPATH`` from a folder of
copies.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.errors import BenchError
from bench.model.ownapp_calls import Interpreter

PACKAGES = ("fastapi", "uvicorn", "pydantic", "starlette")
VENVS = (".venv", "venv")
PROBE = (
    "import json, platform, sys\n"
    "from importlib import metadata\n"
    "def version(name):\n"
    "    try:\n"
    "        return metadata.version(name)\n"
    "    except metadata.PackageNotFoundError:\n"
    "        return None\n"
    "print(json.dumps({'python': platform.python_version(), 'prefix': sys.prefix,"
    " 'packages': {n: version(n) for n in sys.argv[1:]}}))\n"
)
# of bench/lab/: standard library, relative imports
CHILD_MODULES = ("diagnose.py", "appimport.py", "routes.py", "watchdog.py", "witness.py", "watched.py")
CHILD_PACKAGE = "_bench_diagnosis"  # the name they are handed under: no learner's package has it


def choose(given: str | None, app_folder: Path | None) -> tuple[Interpreter, str | None]:
    """The interpreter an own app runs under, and a line saying where it came from (None: the
    harness's own). ``--python`` first; else a virtual environment beside the app (``.venv/``,
    ``venv/``, in its folder or up to three above); else the active ``VIRTUAL_ENV``."""
    if given is not None:
        found = probe(given)
        return found, f"your Python: {describe(found)} (--python)"
    candidates: list[tuple[Path, str]] = []
    if app_folder is not None:
        for folder in [app_folder, *list(app_folder.parents)[:3]]:
            candidates += [(folder / venv / "bin" / "python", f"beside your app, {folder / venv}") for venv in VENVS]
    active = os.environ.get("VIRTUAL_ENV")
    if active:
        candidates.append((Path(active) / "bin" / "python", f"the active VIRTUAL_ENV, {active}"))
    for python, where in candidates:
        if python.exists():
            found = probe(str(python))
            if Path(found.prefix).resolve() == Path(sys.prefix).resolve():
                return found, None  # the harness's own environment: nothing to say
            return found, f"your Python: {describe(found)}, found {where}"
    return harness(), None


def harness() -> Interpreter:
    from bench.lab.environment import installed_version

    return Interpreter(
        path=sys.executable,
        python=".".join(map(str, sys.version_info[:3])),
        prefix=sys.prefix,
        packages={name: installed_version(name) for name in PACKAGES},
    )


def probe(python: str) -> Interpreter:
    """``python``'s version and packages; one that does not run, or has no uvicorn, is said in one line."""
    path = shutil.which(python) or python
    try:
        done = subprocess.run(
            [path, "-c", PROBE, *PACKAGES], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
        raw = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        raise BenchError(f"{python}: not a Python that runs here (give --python the path of one)") from None
    found = Interpreter(path=path, python=raw["python"], prefix=raw["prefix"], packages=raw["packages"])
    if found.packages.get("uvicorn") is None:
        raise BenchError(f"{path} has no uvicorn: install it in that environment (pip install uvicorn)")
    return found


def describe(found: Interpreter) -> str:
    versions = ", ".join(f"{name} {found.packages.get(name) or '—'}" for name in ("fastapi", "uvicorn", "pydantic"))
    return f"{found.path} (Python {found.python}, {versions})"


def handed(found: Interpreter, into: Path) -> Path:
    """A folder for ``PYTHONPATH`` that holds the diagnosis as the package ``_bench_diagnosis``
    (``python -m _bench_diagnosis.diagnose``), and, for a Python other than the harness's,
    copies of blockbuster and forbiddenfruit. ``into`` is a folder of this run (made private by
    the harness), never a shared one: its code is run. A package of its own name, so that a
    learner's ``bench/`` or ``servers/`` is never taken for it, nor it for theirs."""
    here = Path(__file__).resolve().parent
    package = into / CHILD_PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""The lab\'s diagnosis, handed to the learner\'s Python."""\n')
    for name in CHILD_MODULES:
        shutil.copy2(here / name, package / name)
    if Path(found.prefix).resolve() != Path(sys.prefix).resolve():
        for dependency in ("blockbuster", "forbiddenfruit"):
            spec = importlib.util.find_spec(dependency)
            if spec is None or spec.origin is None:
                raise BenchError(f"{dependency} is missing from the harness's environment: reinstall bench")
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(Path(spec.origin).parent, into / dependency, ignore=ignore, dirs_exist_ok=True)
    return into
