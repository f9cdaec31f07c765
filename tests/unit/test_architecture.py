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
