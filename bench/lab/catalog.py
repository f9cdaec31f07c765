"""Finding and reading a scenarios file; the parsing itself is ``bench.model.scenario``."""

from __future__ import annotations

from pathlib import Path

from bench.errors import BenchError
from bench.model.scenario import Catalog
from bench.model.scenarios_file import parse_catalog

MAX_BYTES = 1 << 20  # a scenarios file is a few kilobytes


def default_scenarios_path() -> Path:
    """The repository's scenarios.yaml (editable install) or the copy inside the wheel."""
    package = Path(__file__).resolve().parent.parent  # bench/
    for candidate in (package.parent / "scenarios.yaml", package / "scenarios.yaml"):
        if candidate.is_file():
            return candidate
    raise BenchError("no scenarios.yaml found beside the bench package; pass --scenarios FILE")


def load_catalog(path: Path) -> Catalog:
    try:
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise BenchError(f"{path}: {path.stat().st_size:,} bytes is too big for a scenarios file")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"{path}: cannot read the scenarios file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise BenchError(f"{path}: not a scenarios file: not UTF-8 text (byte {exc.start})") from None
    catalog = parse_catalog(text, source=str(path))
    return _own_apps_beside(catalog, path.resolve().parent)


def _own_apps_beside(catalog: Catalog, folder: Path) -> Catalog:
    """An own app's ``listing.py:app`` is relative to the scenarios file, not to where bench runs."""
    variants = {}
    for name, v in catalog.variants.items():
        if v.own is not None and ".py:" in v.own.spec and not Path(v.own.spec).is_absolute():
            file, _, attr = v.own.spec.rpartition(":")
            own = v.own.model_copy(update={"spec": f"{(folder / file).resolve()}:{attr}"})
            v = v.model_copy(update={"own": own})
        variants[name] = v
    return catalog.model_copy(update={"variants": variants})
