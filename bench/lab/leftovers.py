"""What an earlier harness that died left behind: its processes, and its run marked running.

The lifeline (``bench.engine.processes``) stops a dead harness's processes within
seconds. When even that could not run (the watchdog was killed too), the next ``bench``
finds the processes by their owner mark, stops them, and marks the run document the
dead harness was writing ``abandoned``, keeping every variant that finished.
"""

from __future__ import annotations

from pathlib import Path

from bench.engine.owners import forget, kill_marked, leftovers, owner_alive
from bench.errors import BenchError
from bench.model.document import RunDocument
from bench.results import RUN_FILE, load, read_object, save

HEAD_BYTES = 1024  # a run document's status is in its first lines (saved in the model's field order)


def clean_up(out_dir: Path, abandoned: list[tuple[RunDocument, Path]] | None = None) -> list[str]:
    """Stop what dead harnesses left running; mark their runs abandoned (each added to
    ``abandoned``, for its page to be written). One line per finding."""
    said = []
    for owner, found in leftovers().items():
        stopped = kill_marked(owner) if found else 0
        forget(owner)  # its file too, when nothing of it was left: a stale file is never kept
        if not found:
            continue
        pid = owner.partition(":")[0]
        said.append(f"stopped {stopped or len(found)} processes left running by an earlier bench (pid {pid}) that died")
    for path in _run_files(out_dir):
        try:
            with path.open("rb") as head:
                if b'"running"' not in head.read(HEAD_BYTES):  # its status, near the top: most runs ended
                    continue
            raw = read_object(path)
        except (OSError, BenchError):
            continue  # not a run document of ours, however broken: left alone, never a reason to stop
        writer = raw.get("owner")
        if raw.get("status") != "running" or not isinstance(writer, str) or owner_alive(writer):
            continue
        try:
            doc = load(path)
        except BenchError:
            continue  # another version's document: not ours to rewrite
        if not isinstance(doc, RunDocument):
            continue
        doc.status = "abandoned"
        save(doc, path.parent)
        if abandoned is not None:
            abandoned.append((doc, path.parent))
        kept = sum(1 for v in doc.variants if v.status == "ok")
        said.append(f"run {doc.run_id} was left running by a bench that died: marked abandoned, {kept} variants kept")
    return said


def _run_files(out_dir: Path) -> list[Path]:
    """Run documents under ``out_dir``: a run's (one level down) and a tour's lessons' (two)."""
    if not out_dir.is_dir():
        return []
    return sorted([*out_dir.glob(f"*/{RUN_FILE}"), *out_dir.glob(f"*/*/{RUN_FILE}")])
