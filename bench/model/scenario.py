"""The scenarios: ``scenarios.yaml``'s text parsed into frozen, validated objects.

Parsed once, at the edge: every later module receives a ``Catalog`` / ``Scenario``
and never sees raw YAML. Every problem is reported as ``file:line: field: what is wrong``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from bench import contract
from bench.errors import BenchError
from bench.model.base import Record
from bench.model.ownapp_calls import FoundCall, Interpreter
from bench.model.request import RequestSpec, safe_path

# The figures a claim can measure; each is a field of ``bench.model.document.Summary``.
Measure = Literal[
    "first_response_s",
    "response_min_s",
    "response_p50_s",
    "response_p95_s",
    "response_p99_s",
    "response_max_s",
    "all_responded_s",
    "all_done_s",
    "done_time_p50_s",
    "done_time_max_s",
    "parallelism",
    "lost",
    "errors",
    "busiest_worker_share",
    "loop_lag_p99_s",
    "loop_lag_max_s",
    "thread_wait_p99_s",
    "thread_wait_max_s",
    # facts of the task-control experiment (bench.lab.taskcontrol)
    "retry_attempts",
    "retry_succeeded",
    "started_seen",
    "revoked_ran",
]

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"

ClientKind = Literal["raw", "httpx"]  # an HTTP client of the load engine (bench load, any pattern)
CLIENT_KINDS: tuple[ClientKind, ...] = ("raw", "httpx")
RunClient = Literal["raw", "httpx", "browser"]  # a run's client: the browser opens tabs (bursts only)
UrlMode = Literal["distinct", "same", "both"]
SAME_URL_SUFFIX = "+same-url"

# How many units of work one server process runs at once (see scenarios.yaml).
WorkSlots = int | Literal["threads", "executor", "unbounded"]


class Frozen(Record):
    """What the lab parses from input: the one base, frozen, and no NaN or infinity."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class CeleryWorker(Frozen):
    """The Celery worker a ``celery`` variant runs beside its web server."""

    concurrency: int = Field(ge=1, le=64)
    pool: Literal["prefork", "threads", "solo"] = "prefork"
    prefetch: int = Field(default=1, ge=1, le=100)


DEFAULT_PATH = contract.PUSH_PATH
OWN_APP = re.compile(r"^(?P<file>.+\.py):(?P<attr>[A-Za-z_]\w*)$")


class OwnApp(Frozen):
    """A learner's app: any ASGI app, no /health, no ledger. Its strategy is diagnosed, not given."""

    spec: str  # as given: PATH.py:ATTR (relative to the scenarios file) or module:attr
    path: str | None = None  # where the load goes, ``{token}`` filled per request; None: the scenario's
    done_file: str | None = contract.HUMAN_LOG_FILE  # the app's output, in its working folder; None: not observable
    done_pattern: str = "{token}"  # a line of done_file that says this token's work is done
    method: str = "GET"  # the request's method, headers ("Name: value") and body; {token} may stand in them
    headers: tuple[str, ...] = ()
    body: str = ""
    content_type: str | None = None
    route: str | None = None  # "POST /notify/{user_id}": which of the app's routes, when it has several
    factory: bool = False  # ATTR builds the app when called (uvicorn --factory)
    python: str | None = None  # --python: the learner's interpreter (else one found beside the app)
    interpreter: Interpreter | None = None  # filled before the run: the Python the app runs under
    interpreter_said: str | None = None  # where that Python came from, in one line (None: the harness's own)
    env: tuple[tuple[str, str], ...] = ()  # settings the app reads from its environment (--env KEY=VALUE)
    # filled in by the diagnosis (bench.lab.ownapp), before the run
    diagnosis: tuple[FoundCall, ...] = ()
    strategy: str = ""
    endpoint: str = ""  # e.g. "async def notify (listing.py:16)"
    seconds_written: float | None = None  # the work's duration as the code writes it
    rest_s: float | None = None  # one request in the diagnosis, its sleeps stood in for: the rest's time
    cpu_wait_s: float = 0.0  # how long that request waited for a CPU besides (not counted in rest_s)

    @field_validator("path")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return safe_path(value, "the path")  # nothing a scenarios file says can add a header to a request
        except BenchError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("done_file")
    @classmethod
    def _a_file(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or value.endswith("/") or value.rpartition("/")[2] in (".", "..")):
            raise ValueError(f"the done file must name a file the app writes, not a folder (got {value!r})")
        return value

    @model_validator(mode="after")
    def _a_request(self) -> OwnApp:
        try:
            self.request  # noqa: B018 - validated here, built where it is sent
        except BenchError as exc:
            raise ValueError(str(exc)) from None
        sent = [self.path or "", *self.headers, self.body]
        if self.path is not None and self.done_file is not None and not any("{token}" in s for s in sent):
            raise ValueError(
                f"the path {self.path!r} has no {{token}} (nor do the headers or the body): every request would "
                "ask for the same work, and the lab could not tell whose is done; e.g. /push/{token}"
            )
        return self

    @property
    def request(self) -> RequestSpec:
        """What each request sends besides its path."""
        return RequestSpec.of(self.method, self.headers, self.body.encode() or None, self.content_type)

    @field_validator("done_pattern")
    @classmethod
    def _has_token(cls, value: str) -> str:
        if "{token}" not in value:
            raise ValueError(f"the done pattern must contain {{token}} (got {value!r})")
        return value


def plain_text(value: str | None) -> str | None:
    """Prose from a file (a title, a claim): no control character, so nothing it says can move a
    terminal's cursor, set its title or colour what follows (newlines and tabs are prose)."""
    if value is not None and (bad := next((c for c in value if not c.isprintable() and c not in "\n\t"), None)):
        raise ValueError(f"control character {bad!r} in text: write it as plain text")
    return value


class Variant(Frozen):
    name: str = Field(pattern=NAME_PATTERN)
    title: str
    app: str
    workers: int = Field(default=1, ge=1, le=32)
    work_slots: WorkSlots | None = None  # None only for an own app before its diagnosis
    answers: Literal["after-work", "at-once"] | None = None
    own: OwnApp | None = None
    celery: CeleryWorker | None = None
    thread_limit: int | None = Field(default=None, ge=1, le=10_000, description="anyio's limiter, raised at startup")
    processes: int | None = Field(default=None, ge=1, le=64, description="the app's process pool (process-pool)")

    _plain = field_validator("title")(plain_text)

    @model_validator(mode="before")
    @classmethod
    def _own_app(cls, data: Any) -> Any:
        """``app: listing.py:app`` names a learner's app: its strategy comes from its diagnosis."""
        if isinstance(data, dict) and isinstance(data.get("app"), str) and OWN_APP.match(data["app"]):
            data = dict(data)
            own = data.setdefault("own", {})
            if isinstance(own, dict):
                own.setdefault("spec", data["app"])
        return data

    @model_validator(mode="after")
    def _celery_slots(self) -> Variant:
        if self.own is None and (self.work_slots is None or self.answers is None):
            raise ValueError("a variant of the lab needs work_slots and answers")
        if self.processes is not None and self.work_slots != self.processes:
            raise ValueError(f"work_slots must equal processes ({self.processes}): the pool runs that many at once")
        if self.celery is not None and self.work_slots != self.celery.concurrency:
            raise ValueError(
                f"work_slots must equal celery.concurrency ({self.celery.concurrency}): "
                "the worker runs that many tasks at once"
            )
        return self

    @field_validator("app")
    @classmethod
    def _import_string(cls, value: str) -> str:
        if not re.match(contract.IMPORT_STRING, value) and not OWN_APP.match(value):
            example = "an import string like 'servers.sync:app' or a file's app like 'listing.py:app'"
            raise ValueError(f"must be {example} (got {value!r})")
        return value

    @field_validator("work_slots", mode="before")
    @classmethod
    def _slots(cls, value: object) -> object:
        if value is None or value in ("threads", "executor", "unbounded") or (type(value) is int and value >= 1):
            return value
        raise ValueError(f"must be a whole number >= 1, 'threads', 'executor' or 'unbounded' (got {value!r})")


class Work(Frozen):
    kind: Literal["sleep", "cpu"] = "sleep"
    seconds: float = Field(gt=0, le=3600)


class Load(Frozen):
    """How the requests arrive (see ``bench.engine.load``). Durations are at true scale.

    burst: ``clients`` requests, ``gap`` seconds apart (0: all at once).
    closed: ``clients`` connections, each sending its next request when answered, for
        ``duration`` seconds and/or ``total`` requests.
    open: ``rate`` requests per second for ``duration`` seconds and/or ``total``
        requests, on at most ``clients`` connections (default 1000).
    """

    pattern: Literal["burst", "closed", "open"] = "burst"
    clients: int | None = Field(default=None, ge=1, le=10000)
    gap: float = Field(default=0.0, ge=0, le=60, description="seconds between two clients' arrivals")
    duration: float | None = Field(default=None, gt=0, le=3600)
    rate: float | None = Field(default=None, gt=0, le=1_000_000)
    total: int | None = Field(default=None, ge=1, le=10_000_000)
    client: RunClient | None = None  # None: the command line's --client, else raw
    urls: UrlMode = "distinct"  # burst only: one URL per tab, all on one URL, or each variant both ways

    @model_validator(mode="after")
    def _fields_of_the_pattern(self) -> Load:
        if self.pattern != "burst" and (self.client == "browser" or self.urls != "distinct"):
            raise ValueError("'client: browser' and 'urls' are for burst loads (tabs)")
        if self.pattern in ("burst", "closed") and self.clients is None:
            raise ValueError(f"a {self.pattern} load needs 'clients'")
        if self.pattern != "burst" and self.duration is None and self.total is None:
            raise ValueError(f"a {self.pattern} load needs 'duration', 'total' or both")
        if self.pattern == "open" and self.rate is None:
            raise ValueError("an open load needs 'rate' (requests per second)")
        if self.pattern != "open" and self.rate is not None:
            raise ValueError("'rate' belongs to the open pattern")
        if self.pattern != "burst" and self.gap:
            raise ValueError("'gap' belongs to the burst pattern")
        return self


class Claim(Frozen):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,19}$")
    variant: str
    says: str
    measure: Measure
    approx: float | None = None
    below: float | None = None
    above: float | None = None
    unit: Literal["d", "s", "theory"] = "d"  # theory: times the figure theory expects on this machine
    tolerance: float = Field(default=0.2, gt=0, lt=1)
    why: str
    if_not: str | None = None
    tutorial: bool = False  # the tutorial's own statement (its failure is a finding), not the lab's model

    _plain = field_validator("says", "why", "if_not")(plain_text)

    @model_validator(mode="after")
    def _one_comparison(self) -> Claim:
        given = [k for k in ("approx", "below", "above") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of approx, below, above (got {', '.join(given) or 'none'})")
        if self.unit == "theory" and self.measure not in ("all_done_s", "all_responded_s"):
            raise ValueError("unit 'theory' is for all_done_s and all_responded_s, the figures theory predicts")
        return self


class Disruption(Frozen):
    """After every answer, with the work in flight: stop a process (see ``bench.lab.disrupt``)."""

    target: Literal["web-server", "celery-worker"]
    signal: Literal["KILL", "TERM"] = "KILL"
    at: float = Field(default=0.3, ge=0, le=0.9, description="how far into the work, as a fraction of d")


class Scenario(Frozen):
    name: str = Field(pattern=NAME_PATTERN)
    title: str
    description: str = ""
    work: Work
    load: Load
    variants: tuple[str, ...] = Field(min_length=1)
    claims: tuple[Claim, ...] = ()
    disruption: Disruption | None = None
    experiment: Literal["load", "task-control"] = "load"
    repeat: int = Field(default=1, ge=1, le=20, description="run each variant this many times (results name#k)")
    sweep: tuple[int, ...] = Field(
        default=(), description="closed loop: run each variant at each of these connection counts (results name@n)"
    )

    _plain = field_validator("title", "description")(plain_text)

    @model_validator(mode="after")
    def _sweep_is_closed(self) -> Scenario:
        if self.sweep and self.load.pattern != "closed":
            raise ValueError("a sweep steps through connection counts: it needs a closed load")
        if any(n < 1 or n > 10_000 for n in self.sweep):
            raise ValueError("sweep steps must be connection counts from 1 to 10000")
        return self

    fail_first: int = Field(default=0, ge=0, le=5, description="task-control: attempts that fail before one succeeds")


class Catalog(Frozen):
    source: str
    variants: dict[str, Variant]
    scenarios: dict[str, Scenario]

    def scenario(self, name: str) -> Scenario:
        if name not in self.scenarios:
            raise BenchError(f"unknown scenario {name!r}; known: {', '.join(self.scenarios)}")
        return self.scenarios[name]

    def pick_variants(self, scenario: Scenario, only: Iterable[str] | None) -> tuple[Variant, ...]:
        names = list(scenario.variants)
        if only is not None:
            wanted = list(only)
            if not wanted:
                raise BenchError(f"--variants names none; give one or more of: {', '.join(names)}")
            unknown = [n for n in wanted if n not in names]
            if unknown:
                raise BenchError(
                    f"unknown variant {', '.join(map(repr, unknown))} for scenario {scenario.name!r};"
                    f" known: {', '.join(names)}"
                )
            names = [n for n in names if n in wanted]
        return tuple(self.variants[n] for n in names)
