"""The results folder: one run document per run, ``results/<run-id>/run.json``.

Rewritten atomically (temp file + rename) after every variant, so a crash or Ctrl-C
keeps what already ran.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.errors import BenchError
from bench.model.document import READABLE_VERSIONS, SCHEMA_VERSION, Document, LoadDocument, RunDocument

RUN_FILE = "run.json"
MAX_DOCUMENT_BYTES = 256 << 20  # a run with thousands of requests is a few megabytes


_UNSAVED: dict[Path, str] = {}  # a folder whose last save failed (a full disk): why, until one succeeds


def save(doc: Document, folder: Path) -> Path:
    """Write ``run.json`` atomically: a reader sees the old or the new file, never half.

    A save that fails (a full disk, a folder gone) does not stop the run: the file keeps its
    last good state, the failure is kept for ``unsaved``, and the next save tries again. The
    command prints its figures, then says what could not be saved (exit 1)."""
    target = folder / RUN_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".run-", suffix=".json", dir=folder)
    except OSError as exc:
        note_unsaved(target, exc)
        return target
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(to_json(doc))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        note_unsaved(target, exc)
        return target
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _UNSAVED.pop(target.parent.resolve(), None)
    return target


def note_unsaved(file: Path, exc: OSError) -> None:
    """``file`` (a run's document or page) could not be written."""
    _UNSAVED.setdefault(file.parent.resolve(), f"could not save {file}: {exc.strerror or exc}")  # the first says most


def unsaved(folder: Path) -> str | None:
    """What could not be saved in ``folder`` (its last attempt failed), in one line; None: all saved."""
    return _UNSAVED.get(folder.resolve())


def write_file(path: Path, text: str) -> None:
    """``text`` to ``path`` (``bench export -o``): whole or not at all, and a place that cannot
    take it (missing, read-only, full) is one line. A regular file is replaced atomically; a
    device or a pipe is written as it is (never replaced by a rename)."""
    try:
        if path.exists() and not path.is_file():
            with path.open("w", encoding="utf-8") as f:
                f.write(text)
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise BenchError(f"cannot write {path}: {exc.strerror or exc}") from None


def prepare_folder(folder: Path) -> Path:
    """Create a run's folder and make sure a file can be written there, before anything runs.

    A run id is to the second: a second run started within the same second gets ``-2``
    (then ``-3`` ...) rather than writing into the first one's folder."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        base, n = folder, 1
        while True:
            try:
                folder.mkdir()
                break
            except FileExistsError:
                n += 1
                folder = base.with_name(f"{base.name}-{n}")
        probe = folder / ".writable"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BenchError(f"cannot write results to {folder}: {exc.strerror or exc}") from None
    return folder


def to_json(doc: Document) -> str:
    return json.dumps(doc.model_dump(mode="json"), indent=2) + "\n"


def load(path: Path) -> Document:
    """A saved run or load; a document of another version or kind is a one-line error."""
    file = path / RUN_FILE if path.is_dir() else path
    raw = read_object(file)
    version = raw.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise BenchError(
            f"{file}: a run document of schema version {version}, and this bench reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))} (run it again with this version)"
        )
    if version == 2:  # version 2 named repetitions in each variant: the same document otherwise
        for variant in raw.get("variants", []):
            if isinstance(variant, dict):
                variant.pop("repetition", None)
        raw["schema_version"] = SCHEMA_VERSION
    try:
        if raw.get("kind") == "load":
            return LoadDocument.model_validate(raw)
        return RunDocument.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BenchError(f"{file}: not a run document of this version: {where}: {first['msg']}") from None


def read_object(file: Path) -> dict[str, Any]:
    """The JSON object in ``file``, or a one-line ``BenchError`` saying why not: missing,
    unreadable, too big, not UTF-8, not JSON, nested past any run document, not an object."""
    try:
        if file.stat().st_size > MAX_DOCUMENT_BYTES:
            raise BenchError(f"{file}: {file.stat().st_size:,} bytes is too big for a run document")
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"{file}: no such run file") from None
    except OSError as exc:
        raise BenchError(f"{file}: not a readable run document ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise BenchError(f"{file}: not a run document: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{file}: not a run document: not JSON ({exc.msg}, line {exc.lineno})") from None
    except RecursionError:
        raise BenchError(f"{file}: not a run document: nested too deeply") from None
    if not isinstance(raw, dict):
        raise BenchError(f"{file}: not a run document: a JSON {type(raw).__name__}, not an object")
    return raw


def find_run(ref: str | None, results_dir: Path) -> Path:
    """A run by id (folder name under ``results_dir``), by path, or the newest one."""
    if ref is None:
        runs = sorted(p for p in results_dir.glob(f"*/{RUN_FILE}")) if results_dir.is_dir() else []
        if not runs:
            raise BenchError(f"no runs in {results_dir}/ yet; start one with: bench run four-tabs")
        return runs[-1]
    for candidate in (Path(ref), results_dir / ref):
        if (candidate.is_dir() and (candidate / RUN_FILE).is_file()) or candidate.is_file():
            return candidate
    known = sorted(p.parent.name for p in results_dir.glob(f"*/{RUN_FILE}")) if results_dir.is_dir() else []
    hint = f"; runs in {results_dir}/: {', '.join(known[-5:])}" if known else ""
    raise BenchError(f"no run {ref!r} (neither a path nor a run id){hint}")
