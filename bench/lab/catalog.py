"""Finding and reading a scenarios file; the parsing itself is ``bench.model.scenario``."""

from __future__ import annotations

from pathlib import Path

from bench.errors import BenchError
from bench.model.scenario import Catalog, parse_catalog


def default_scenarios_path() -> Path:
    """The repository's scenarios.yaml (editable install) or the copy inside the wheel."""
    package = Path(__file__).resolve().parent.parent  # bench/
    for candidate in (package.parent / "scenarios.yaml", package / "scenarios.yaml"):
        if candidate.is_file():
            return candidate
    raise BenchError("no scenarios.yaml found beside the bench package; pass --scenarios FILE")


def load_catalog(path: Path) -> Catalog:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"{path}: cannot read the scenarios file ({exc.strerror or exc})") from None
    return parse_catalog(text, source=str(path))
