"""``bench load`` as a run: fire the load at a URL, keep its figures as a run document, saved.

Every sample goes into a ``LoadRecorder`` as it completes (memory stays flat for
millions of requests). Ctrl-C ends the load and keeps what was measured, as wrk2 and
oha print what they measured: the document is then ``interrupted``.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from bench import results
from bench.engine import load_recorder, loops
from bench.engine.dispatch import LoadShape, fire
from bench.engine.http import GET
from bench.engine.load import SameRequest
from bench.engine.target import Target, connection_refused, parse_target
from bench.engine.threads import fire_in_processes
from bench.errors import RunFailed
from bench.lab import environment
from bench.model.document import LoadDocument
from bench.model.events import Events, LoadObserver, RunEnded, no_events, no_load_observer
from bench.model.request import RequestSpec
from bench.model.scenario import ClientKind

CLOSED_LOOP_CONNECTIONS = 10  # wrk's default
OPEN_LOOP_POOL = 1000


@dataclass(frozen=True)
class LoadSpec:
    """What the user asked ``bench load`` for, defaults filled in."""

    target: Target
    connections: int
    duration_s: float | None
    rate: float | None
    total: int | None
    timeout_s: float
    client: ClientKind
    request: RequestSpec = GET
    threads: int = 1  # -t: processes firing it, like wrk's threads
    per_connection: bool = False  # --per-connection: wrk2's schedule for the open loop

    @classmethod
    def of(
        cls,
        url: str,
        allow_remote: bool,
        connections: int | None,
        duration_s: float | None,
        rate: float | None,
        total: int | None,
        timeout_s: float,
        client: ClientKind,
        request: RequestSpec = GET,
    ) -> LoadSpec:
        target = parse_target(url, allow_remote)  # a typo must not load someone else's server
        if duration_s is None and total is None:
            duration_s = 10.0
        pool = connections or (OPEN_LOOP_POOL if rate is not None else CLOSED_LOOP_CONNECTIONS)
        request = replace(request, authority=target.authority)  # the Host header as the URL gave it
        return cls(target, pool, duration_s, rate, total, timeout_s, client, request)

    @property
    def shape(self) -> LoadShape:
        return LoadShape(
            pattern="open" if self.rate is not None else "closed",
            concurrency=self.connections,
            timeout_s=self.timeout_s,
            duration_s=self.duration_s,
            total=self.total,
            rate=self.rate,
            per_connection=self.per_connection,
        )

    def command(self) -> str:
        """The command line that does this load again (saved with the run)."""
        return " ".join(
            ["bench load", self.target.url, f"-c {self.connections}"]
            + ([f"-d {self.duration_s:g}"] if self.duration_s is not None else [])
            + ([f"--rate {self.rate:g}"] if self.rate is not None else [])
            + ([f"-n {self.total}"] if self.total is not None else [])
            + [f"--timeout {self.timeout_s:g}", f"--client {self.client}"]
            + ([] if self.request.keep_alive else ["--no-keepalive"])
            + ([f"-t {self.threads}"] if self.threads > 1 else [])
            + (["--per-connection"] if self.per_connection else [])
            + ([f"--method {self.request.method}"] if self.request.method != "GET" else [])
            + [f"--header {shlex.quote(f'{k}: {v}')}" for k, v in self.request.headers]
            + ([f"--body {shlex.quote(self.request.body.decode('utf-8', 'replace'))}"] if self.request.body else [])
        )


def check_listening(spec: LoadSpec) -> None:
    """Before anything is saved: a URL nobody serves is a failed run, said in one line."""
    target = spec.target
    refused = loops.run(connection_refused(target.host, target.port, spec.timeout_s))
    if refused is not None:
        raise RunFailed(f"nothing is listening on {target.host}:{target.port}: {refused}")


def run_load(
    spec: LoadSpec,
    folder: Path,
    observe: LoadObserver = no_load_observer,
    events: Events | None = None,
    on_start: Callable[[], None] | None = None,
) -> LoadDocument:
    """Fire ``spec``'s load (``observe`` hears every answer), save the run in ``folder`` and return it.

    ``on_start`` is called just before the first request leaves (the live line's clock starts there)."""
    events = events or no_events()
    measured = load_recorder.LoadRecorder()
    target = spec.target

    async def go() -> None:
        if on_start is not None:
            on_start()
        await fire(
            spec.shape,
            spec.client,
            target.host,
            target.port,
            SameRequest(target.path),
            observe,
            measured.add,
            observe_sent=False,
            spec=spec.request,
            hard_limits=True,
            answered=measured.answered,
        )

    interrupted = False
    if spec.threads > 1:  # processes of their own, merged: a server faster than one Python core
        measured, interrupted = fire_in_processes(
            spec.shape, spec.threads, spec.client, target.host, target.port, target.path, spec.request, on_start
        )
    else:
        try:
            with loops.frozen_heap():
                loops.run(go())
        except KeyboardInterrupt:
            interrupted = True
    figures = measured.figures(target.url, spec.shape.pattern, spec.client, loops.loop_name(), spec.connections)
    figures.interrupted = interrupted
    figures.per_connection = spec.per_connection
    doc = LoadDocument(
        run_id=folder.name,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        status="interrupted" if interrupted else "complete",
        command=spec.command(),
        environment=environment.capture(),
        figures=figures,
    )
    results.save(doc, folder)
    events.emit(RunEnded(doc, folder))
    return doc
