"""The layers of the package, enforced: the import contracts in pyproject.toml hold."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.factories import ROOT


def test_import_contracts_hold() -> None:
    beside = Path(sys.executable).parent / "lint-imports"  # the venv's, even when it is not activated
    lint_imports = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert lint_imports is not None, "lint-imports is installed by .[test]"
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_the_folders_are_the_design() -> None:
    packages = sorted(p.name for p in (ROOT / "bench").iterdir() if (p / "__init__.py").is_file())
    assert packages == ["cli", "engine", "lab", "locust", "model", "report"]


def test_modules_stay_small() -> None:
    """A command is a page (~200 lines), any other module a few hundred at most (~400)."""
    too_long = []
    for path in sorted((ROOT / "bench").rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        limit = 200 if path.parent.name == "cli" else 400
        if lines > limit:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines (at most {limit})")
    assert not too_long, "\n".join(too_long)
