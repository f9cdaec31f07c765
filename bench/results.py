"""The run document: what every run writes, ``bench show`` reads and exports convert.

One JSON document per run, ``results/<run-id>/run.json``, rewritten atomically (temp
file + rename) after every variant, so a crash or Ctrl-C keeps what already ran. All
times are seconds from the variant's first request.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from bench.errors import BenchError

SCHEMA_VERSION = 1
RUN_FILE = "run.json"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestRecord(Model):
    client: int
    token: str
    sent_s: float
    first_byte_s: float | None
    responded_s: float | None
    done_s: float | None  # when the ledger says its work finished; None = not (yet) done
    status: int | None
    pid: int | None  # the process that answered
    error: str | None = None
    queued_s: float | None = None  # open loop: waited in the client from its intended start to being written
    work_start_s: float | None = None
    work_pid: int | None = None  # the process that did the work
    work_thread: str | None = None


class Summary(Model):
    requests: int
    ok: int
    first_response_s: float | None
    response_min_s: float | None
    response_p50_s: float | None
    response_p95_s: float | None
    response_p99_s: float | None
    response_max_s: float | None
    all_responded_s: float | None
    all_done_s: float | None
    done_time_p50_s: float | None
    done_time_max_s: float | None
    parallelism: float | None
    lost: int
    errors: int
    errors_by_kind: dict[str, int]
    dropped: int = 0  # open loop: requests the client could not start (no connection free, none allowed)
    throughput_rps: float | None = None  # answered requests / (last answer - first send)
    client_queue_p99_s: float | None = None  # open loop
    work_began_p50_s: float | None = None  # request sent -> its work started (queues, brokers)
    busiest_worker_share: float | None = None  # the share of answers from the busiest process (1/W is even)
    loop_lag_p99_s: float | None = None  # the async def probe's latency during the load: event-loop lag
    loop_lag_max_s: float | None = None
    thread_wait_p99_s: float | None = None  # the def probe's latency: waiting for a free thread
    thread_wait_max_s: float | None = None
    pids: dict[str, int]  # pid (as text, for JSON) -> requests it answered


class Expected(Model):
    """What theory says for this variant under this scenario (already time-scaled)."""

    model: str  # one line: the theory in words
    all_responded_s: float
    all_done_s: float
    responded_s: list[float]  # per client
    done_s: list[float]


class ClaimResult(Model):
    id: str
    variant: str
    says: str
    holds: bool
    measured: float | None
    measured_text: str
    expected_text: str
    why: str
    note: str | None = None  # the finding when a claim does not reproduce


class Capacity(Model):
    workers: int
    work_slots_per_worker: int | None  # None: unbounded
    thread_limit: int | None
    celery_concurrency: int | None = None
    celery_pool: str | None = None
    celery_prefetch: int | None = None
    answers: str | None = None  # "after-work" or "at-once": does the answer wait for the work?


class VariantResult(Model):
    name: str
    title: str
    app: str
    capacity: Capacity
    status: Literal["ok", "failed"]
    error: str | None = None
    summary: Summary | None = None
    expected: Expected | None = None
    claims: list[ClaimResult] = []
    requests: list[RequestRecord] = []
    started_at: float | None = None  # wall clock of the first request
    locust: dict[str, Any] | None = None  # bench locust: mode, users, workers, Locust's own statistics
    broker: str | None = None  # the Celery variants' broker, as run
    disruption: str | None = None  # what the restart experiments did to a process
    facts: dict[str, float] = {}  # what an experiment (task-control) measured besides the summary
    notes: list[str] = []  # what happened, in words


class RunDocument(Model):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    created: str
    status: Literal["running", "complete", "interrupted"]
    scenario: dict[str, Any]
    time_scale: float
    environment: dict[str, Any]
    variants: list[VariantResult] = []
    warnings: list[str] = []  # how fair and how quiet the measurement was (bench.fairness)

    def claims(self) -> list[ClaimResult]:
        return [claim for v in self.variants for claim in v.claims]


def save(doc: RunDocument, folder: Path) -> Path:
    """Write ``run.json`` atomically: a reader sees the old or the new file, never half."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / RUN_FILE
    fd, tmp = tempfile.mkstemp(prefix=".run-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(to_json(doc))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def to_json(doc: RunDocument) -> str:
    return json.dumps(doc.model_dump(mode="json"), indent=2) + "\n"


def load(path: Path) -> RunDocument:
    file = path / RUN_FILE if path.is_dir() else path
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"{file}: no such run file") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise BenchError(f"{file}: not a readable run document ({exc})") from None
    try:
        return RunDocument.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BenchError(f"{file}: not a run document of this version: {where}: {first['msg']}") from None


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
