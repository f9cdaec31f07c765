"""The run document's types: what every run writes, ``bench show`` reads and exports convert.

Pure data (pydantic models), no I/O: ``bench.results`` saves and loads them. All times
are seconds from the variant's first request.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from bench.model.base import Foreign, Record
from bench.model.holds import LoopHeld
from bench.model.load import Bucket, CurvePoint, LoadFigures, Second
from bench.model.ownapp_calls import FoundCall, Interpreter
from bench.model.scenario import Claim, Disruption, Load, Variant, Work

SCHEMA_VERSION = 3  # 3: repeated runs of a variant in one result (runs, stats); bench load runs saved
READABLE_VERSIONS = (2, 3)  # 2 is 3 without runs, stats and load documents (its "repetition" is dropped)
DROPPED = "dropped"  # the error of an open-loop request the client could not start before the load ended
CANCELLED = "cancelled"  # in flight when the load ended (-d, Ctrl-C): never the server's error


class RequestRecord(Record):
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


class Summary(Record):
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
    unknown: int = 0  # answered 2xx, work not observable (an own app with no done marker): never counted lost
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


class FigureStats(Record):
    """One figure over repeated runs: mean ± sample standard deviation, min…max, n runs."""

    mean: float
    stdev: float
    min: float
    max: float
    n: int


class Expected(Record):
    """What theory says for this variant under this scenario (already time-scaled)."""

    model: str  # one line: the theory in words
    all_responded_s: float
    all_done_s: float
    responded_s: list[float]  # per client
    done_s: list[float]
    all_done_range_s: list[float] | None = None  # simultaneous requests on several workers: [best, worst]


class ClaimResult(Record):
    id: str
    variant: str
    says: str
    holds: bool
    measured: float | None
    measured_text: str
    expected_text: str
    why: str
    note: str | None = None  # the finding when a claim does not hold
    tutorial: bool = False  # the tutorial's statement, checked; False: the lab's own model
    held_runs: int | None = None  # repeated runs: in how many of them the claim held on its own
    runs: int | None = None  # repeated runs: how many (the verdict above is on the mean figure)


class Capacity(Record):
    workers: int
    work_slots_per_worker: int | None  # None: unbounded
    thread_limit: int | None
    celery_concurrency: int | None = None
    celery_pool: str | None = None
    celery_prefetch: int | None = None
    answers: str | None = None  # "after-work" or "at-once": does the answer wait for the work?


class LocustEntry(Foreign):
    """One request name of Locust's ``--json`` statistics (its histograms left out)."""

    name: str
    method: str | None = None
    num_requests: int = 0
    num_failures: int = 0
    num_none_requests: int = 0
    min_response_time: float | None = None  # ms
    max_response_time: float = 0.0  # ms
    total_response_time: float = 0.0  # ms
    total_content_length: int = 0
    start_time: float | None = None  # wall clock
    last_request_timestamp: float | None = None  # wall clock


class TaskControlFacts(Record):
    """What the task-control experiment measured besides the summary (counts as floats: claims read them)."""

    retry_attempts: float
    retry_succeeded: float
    started_seen: float
    revoked_ran: float


class LocustRun(Record):
    """What ``bench locust`` ran, and Locust's own statistics per request name."""

    mode: Literal["headless", "web UI"]
    users: int | None
    spawn_rate: float | None
    run_time_s: float | None
    workers: int
    stats: list[LocustEntry]  # Locust's JSON entries, one per request name
    histogram: list[Bucket] = []  # the pushes' response times, from Locust's own histogram
    curve: list[CurvePoint] = []
    seconds: list[Second] = []  # pushes answered and failed each second (Locust keeps no p99 per second)


def run_name(variant: str, same_url: bool = False, step: int | None = None) -> str:
    """The name a result is shown under: ``asyncio``, ``asyncio+same-url``, ``threadpool@32``
    (the sweep's step at 32 connections). Repeated runs of a variant are one result."""
    url = "+same-url" if same_url else ""
    return f"{variant}{url}{f'@{step}' if step else ''}"


class VariantResult(Record):
    name: str  # as shown: ``run_name`` of the fields below
    variant: str  # the variant's own name in the scenarios file
    same_url: bool = False  # every tab on one URL (the browser's cache lock)
    step: int | None = None  # a sweep's connection count
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
    locust: LocustRun | None = None  # bench locust
    broker: str | None = None  # the Celery variants' broker, as run
    disruption: str | None = None  # what the restart experiments did to a process
    facts: TaskControlFacts | None = None  # the task-control experiment's own figures
    notes: list[str] = []  # what happened, in words
    diagnosis: list[FoundCall] | None = None  # an own app: every blocking call seen, with the learner's file:line
    strategy: str | None = None  # an own app: the strategy inferred from its diagnosis, in words
    loop_held: list[LoopHeld] = []  # what held the event loop, per place (the watchdog)
    endpoint: str | None = None  # an own app: the endpoint the load went to, with its file:line
    work_s: float | None = None  # an own app: d, measured alone before the load (bench.lab.own_d; None: as written)
    runs: list[Summary] = []  # repeated runs (--runs N): each run's summary, in order; summary is the median run's
    stats: dict[str, FigureStats] = {}  # repeated runs: every figure over them
    warmups: int = 0  # runs made first and left out of runs and stats (--warmup K)
    interpreter: Interpreter | None = None  # the Python the server ran under, with its versions

    @field_validator("facts", mode="before")
    @classmethod
    def _no_facts(cls, value: Any) -> Any:
        return None if value == {} else value  # earlier documents wrote {} for "no facts"


class Scaled(Record):
    """The scenario's times as this run used them (after ``--time-scale``)."""

    work_s: float
    gap_s: float | None = None
    duration_s: float | None = None
    rate: float | None = None
    client: str = "raw"
    urls: str = "distinct"


class LocustLoad(Record):
    pattern: Literal["locust"] = "locust"
    mode: Literal["headless", "web UI"]
    users: int | None
    spawn_rate: float | None
    run_time: float | None
    processes: int
    pace: float


class ScenarioAsRun(Record):
    """The scenario a run measured, with its variants in full and its times scaled."""

    name: str
    title: str
    description: str = ""
    work: Work
    load: Load | LocustLoad
    variants: list[Variant]
    claims: list[Claim] = []
    disruption: Disruption | None = None
    experiment: str = "load"
    repeat: int = 1  # measured runs of each variant (bench run --runs, else the scenario's repeat)
    warmup: int = 0  # runs of each variant made first and left out (--warmup)
    sweep: list[int] = []
    fail_first: int = 0
    scaled: Scaled


class Environment(Record):
    """What the run was measured on."""

    python: str
    implementation: str
    platform: str
    machine: str
    cpu_count: int | None
    cpus_usable: int
    packages: dict[str, str | None]
    executable: str
    prefix: str | None = None  # sys.prefix: which environment the harness ran in


class RunDocument(Record):
    schema_version: int = SCHEMA_VERSION
    kind: Literal["scenario"] = "scenario"
    run_id: str
    created: str
    status: Literal["running", "complete", "interrupted", "abandoned"]
    owner: str | None = None  # the harness process writing it (bench.engine.owners.owner_mark)
    scenario: ScenarioAsRun
    time_scale: float
    environment: Environment
    variants: list[VariantResult] = []
    schedule: str | None = None  # what raced at once and what ran alone, and why (bench.model.racing)
    warnings: list[str] = []  # how fair and how quiet the measurement was (bench.model.fairness)

    def claims(self) -> list[ClaimResult]:
        return [claim for v in self.variants for claim in v.claims]


class LoadDocument(Record):
    """A saved ``bench load``: the command as typed, where it ran, and its figures."""

    schema_version: int = SCHEMA_VERSION
    kind: Literal["load"] = "load"
    run_id: str
    created: str
    status: Literal["complete", "interrupted"]
    command: str
    environment: Environment
    figures: LoadFigures


Document = RunDocument | LoadDocument
