"""The diagnosis of a learner's app: what holds the event loop, where, for how long, and of what kind.

``python -m _bench_diagnosis.diagnose PATH.py:ATTR /push/{token}`` (this module, handed to
the app's Python under a name of its own by ``bench.lab.interpreter``) imports the app in a
fresh interpreter (its working directory a scratch folder, so nothing lands in the
learner's folder), sends it one request in process (straight through ASGI, no server) and
writes one JSON document (``bench.model.ownapp.Diagnosis``) to the file ``BENCH_DIAGNOSIS_OUT``
names (the harness's way: what the app prints stays apart), else to stdout. ``*`` for the path
diagnoses every route. Standard library and relative imports only: it runs under the
learner's Python and versions.

Three witnesses, in one pass over the request (so CPU work runs once):

- ``time.sleep`` and ``asyncio.sleep`` are replaced by stand-ins that note what they were
  asked for (the work's duration; on the loop or in a thread, and which pool; before or
  after the answer) and return at once: a listing whose work sleeps 15 s is diagnosed in
  well under a second;
- ``blockbuster``'s wrappers of the standard library's blocking calls (file and socket
  I/O...) note each one made on the loop from the learner's code, with its line and how long
  it took, and let it run;
- the loop watchdog (``watchdog.Watchdog``) samples the loop thread's stack whenever the loop
  is held, and a sampler the worker threads': they see what no wrapper sees (CPU loops, a
  sync HTTP client, ``subprocess.run``), and the CPU clock says whether it was CPU work.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .appimport import BadApp, import_app, tail
from .routes import NoRoute, body_schema, choose, match, routes, scope
from .watchdog import ThreadSampler, Watchdog
from .witness import Observed, Witness, def_line, folded, sampled

GRACE_S = 0.3  # after the answer: background tasks get this long to show what they do (and the
# time a busy machine kept them from a CPU meanwhile: a sync task's thread that waited 0.3 s to run
# was not seen, and the tutorial's BackgroundTasks listing diagnosed "nothing holds the event loop")
GRACE_LIMIT_S = 5.0
REQUEST_LIMIT_S = 30.0  # one request's own work (CPU work runs for real)


def run_queue_waits() -> dict[int, int]:
    """Nanoseconds each of this process's threads has spent runnable but not running (Linux's
    ``/proc/self/task/TID/schedstat``, second field), the diagnosis's own threads left out: the
    time a busy machine kept the request from a CPU. Empty where the kernel does not say."""
    ours = {t.native_id for t in threading.enumerate() if t.name.startswith("bench-")}
    waits: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/self/task"):
            if tid.isdigit() and int(tid) not in ours:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    waits[int(tid)] = int(Path(f"/proc/self/task/{tid}/schedstat").read_text().split()[1])
    return waits


def waited_since(before: dict[int, int]) -> tuple[dict[int, int], float]:
    """The run-queue waits now, and the seconds this process's threads have waited since ``before``."""
    now = run_queue_waits()
    return now, sum(ns - before.get(tid, 0) for tid, ns in now.items()) / 1e9


async def _lifespan(app: Any) -> None:
    """Run the app's startup, if it has one; an app without lifespan support is fine."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await queue.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def receive() -> dict[str, Any]:
        return await queue.get()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.failed":
            raise BadApp(f"the app's startup failed: {message.get('message', '')}")
        if message["type"].startswith("lifespan.startup"):
            started.set()

    try:
        called = app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    except TypeError as wrong:  # not (scope, receive, send): not an ASGI 3 app
        raise BadApp(f"not an ASGI app: calling it as app(scope, receive, send) failed: {wrong}") from None
    if not inspect.isawaitable(called):
        raise BadApp(f"not an ASGI app: app(scope, receive, send) returned {type(called).__name__}, not a coroutine")
    task = asyncio.ensure_future(called)
    done, _ = await asyncio.wait(
        {task, asyncio.ensure_future(started.wait())}, timeout=10, return_when="FIRST_COMPLETED"
    )
    if task in done and task.exception() is not None and not started.is_set():
        exc = task.exception()
        if isinstance(exc, BadApp):
            raise exc
        # Apps that do not speak lifespan raise on its scope: that is not an error.


async def _one_request(app: Any, path: str, witness: Witness, request: Request) -> tuple[Observed, Watchdog]:
    obs = Observed()
    witness.observed = obs
    sent = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not sent.is_set():
            sent.set()
            return {"type": "http.request", "body": request.body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            obs.status = int(message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            obs.answered_at = time.monotonic()
            now, obs.cpu_wait_s = waited_since(before)
            answer_waits.update(now)

    def grace_over() -> bool:
        """Past the answer by GRACE_S, and by the time its threads have waited for a CPU since."""
        if obs.answered_at is None:
            return False
        past = time.monotonic() - obs.answered_at
        if past <= GRACE_S:
            return False
        _, waited = waited_since(answer_waits)
        return past > min(GRACE_S + waited, GRACE_LIMIT_S)

    watchdog = Watchdog(witness.folders)
    watchdog.start(asyncio.get_running_loop())
    answer_waits: dict[int, int] = {}
    before = run_queue_waits()
    obs.began = time.monotonic()
    task = asyncio.ensure_future(app(scope(path, request.method, request.headers), receive, send))
    deadline = time.monotonic() + REQUEST_LIMIT_S
    try:
        while not task.done() and time.monotonic() < deadline:
            if grace_over():
                break
            await witness.real_asyncio_sleep(0.01)
        if task.done() and not task.cancelled() and task.exception() is not None:
            obs.error = task.exception()
        elif not task.done():  # background work still going: it was seen starting, which is all we need
            task.cancel()
            await asyncio.wait({task}, timeout=1)
    finally:
        watchdog.stop()
    return obs, watchdog


def _anyio_threads() -> int | None:
    """anyio's thread limiter for this loop (40 unless the app changed it)."""
    with contextlib.suppress(Exception):
        import anyio.to_thread

        return int(anyio.to_thread.current_default_thread_limiter().total_tokens)
    return None


@dataclass
class Request:
    """What the diagnosis sends besides the path (the harness's ``RequestSpec``, as JSON)."""

    method: str = "GET"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    route: str | None = None  # "POST /notify/{id}": the route to diagnose when the path is not given

    @classmethod
    def from_json(cls, text: str) -> Request:
        raw = json.loads(text)
        headers = [(str(k), str(v)) for k, v in raw.get("headers", [])]
        return cls(str(raw.get("method", "GET")), headers, str(raw.get("body", "")).encode(), raw.get("route"))


def template(path: str) -> str:
    """A route's path with each of its parameters as ``{token}``: ``/notify/{user_id}`` → ``/notify/{token}``."""
    return re.sub(r"\{[^}]*\}", "{token}", path)


def diagnose(spec: str, path: str, factory: bool = False, request: Request | None = None) -> dict[str, Any]:
    """The diagnosis of one route: ``path`` (``-``: the app's only route, or ``request.route``)."""
    app, _, folder = import_app(spec, factory)
    with _session(app, folder) as (witness, loop):
        return _diagnose_route(app, spec, path, request or Request(), witness, loop, folder)


def diagnose_app(app: Any, path: str, folder: Path, request: Request | None = None) -> dict[str, Any]:
    """One request to an app already imported (the pytest plugin), the learner's code being
    what lies under ``folder``; every patch undone and the loop closed after."""
    with _session(app, folder) as (witness, loop):
        witness.outer = {frame.name for frame in traceback.extract_stack()}  # the test's own frames
        return _diagnose_route(app, "app", path, request or Request(), witness, loop, folder)


def diagnose_every(spec: str, factory: bool, requests: list[Request]) -> dict[str, Any]:
    """Every route of the app (``requests`` empty), or the routes ``requests`` name, in one process."""
    app, _, folder = import_app(spec, factory)
    listed = [name for name, _ in routes(app)]
    wanted = requests or [Request(route=_one_method(name)) for name in listed]
    out = []
    with _session(app, folder) as (witness, loop):
        for request in wanted:
            try:
                out.append(_diagnose_route(app, spec, "-", request, witness, loop, folder))
            except BadApp as exc:
                out.append({"app": spec, "path": request.route or "-", "bad": str(exc)})
    return {"app": spec, "routes": listed, "each": out}


@contextlib.contextmanager
def _session(app: Any, folder: Path) -> Iterator[tuple[Witness, asyncio.AbstractEventLoop]]:
    """The witnesses in place, a loop of its own with the app started on it; after, the app's
    tasks cancelled, the loop closed and every patch undone."""
    with _patched(folder) as witness:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(lambda loop, context: None)  # the app's tasks left pending are not news
        try:
            loop.run_until_complete(_lifespan(app))
            yield witness, loop
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(witness.real_asyncio_sleep(0))
            loop.close()


def _one_method(name: str) -> str:
    """``GET,POST /x`` → ``GET /x``: a route listed with several methods is diagnosed with one (GET first)."""
    methods, _, path = name.partition(" ")
    verbs = methods.split(",")
    return f"{'GET' if 'GET' in verbs else verbs[0]} {path}"


@contextlib.contextmanager
def _patched(folder: Path) -> Any:
    """The stand-in sleeps and blockbuster's hooks in place, and everything undone after (the
    pytest plugin runs this in the learner's own test process)."""
    from concurrent.futures import ProcessPoolExecutor

    from blockbuster import BlockBuster

    witness = Witness(folder, "")
    real = (time.sleep, asyncio.sleep, ProcessPoolExecutor.submit)
    time.sleep = witness.time_sleep  # type: ignore[assignment]
    asyncio.sleep = witness.asyncio_sleep
    ProcessPoolExecutor.submit = witness.process_submit(ProcessPoolExecutor.submit)  # type: ignore[method-assign]
    buster = BlockBuster()
    restore = witness.hook(buster)
    try:
        buster.activate()
        yield witness
    finally:
        buster.deactivate()
        restore()
        time.sleep, asyncio.sleep, ProcessPoolExecutor.submit = real  # type: ignore[method-assign]
        witness.observed = None


def _diagnose_route(
    app: Any, spec: str, path: str, request: Request, witness: Witness, loop: Any, folder: Path
) -> dict[str, Any]:
    listed = routes(app)
    chosen: dict[str, Any] = {}
    try:
        if path == "-":  # no path given: the app's routes decide, the method included
            method, route_path = choose(app, request.route)
            request.method, path = method, template(route_path).replace("{token}", "diagnosis")
            chosen = {"method": method, "route_path": template(route_path), "route": f"{method} {route_path}"}
            schema = body_schema(app, method, route_path) if method in ("POST", "PUT", "PATCH") else None
            if schema is not None and not request.body:  # the harness builds a valid body, then asks again
                return {"app": spec, "path": path, **chosen, "routes": [n for n, _ in listed], "needs_body": schema}
        route = match(app, path, request.method)
    except NoRoute as exc:
        raise BadApp(str(exc)) from None
    endpoint = getattr(route, "endpoint", None)
    witness.endpoint = getattr(endpoint, "__name__", "")
    sampler = ThreadSampler(witness.folders, skip=[threading.get_ident()])
    sampler.start()
    try:
        obs, watchdog = loop.run_until_complete(_one_request(app, path, witness, request))
        threads = loop.run_until_complete(_async(_anyio_threads))
    finally:
        sampler.stop()
        witness.observed = None
    calls = folded(obs.calls) + sampled(watchdog.held, sampler.held, obs.calls, witness, threads)
    for c in calls:
        if c.pool == "anyio" and c.pool_size is None:
            c.pool_size = threads
    problem = None if obs.error is None else f"the app raised on the request:\n{tail(obs.error)}"
    return {
        "app": spec,
        "path": path,
        "method": request.method,
        **chosen,
        "routes": [name for name, _ in listed],
        "endpoint": _describe_endpoint(endpoint),
        "status": obs.status,
        "answered": obs.answered_at is not None,
        "rest_s": None if obs.answered_at is None or obs.error is not None else obs.rest_s,
        "cpu_wait_s": obs.cpu_wait_s,
        "calls": [c.found(folder) for c in calls],
        "problem": problem,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }


async def _async(function: Callable[[], Any]) -> Any:
    return function()


def _describe_endpoint(endpoint: Any) -> dict[str, Any] | None:
    if endpoint is None:
        return None
    try:
        file = inspect.getsourcefile(endpoint) or ""
        line = def_line(file, inspect.getsourcelines(endpoint)[1])
    except (OSError, TypeError):
        file, line = "", 0
    params = inspect.signature(endpoint).parameters.values()
    return {
        "name": getattr(endpoint, "__name__", "endpoint"),
        "file": Path(file).name,
        "line": line,
        "is_async": inspect.iscoroutinefunction(endpoint),
        "background_tasks": any("BackgroundTasks" in str(p.annotation) for p in params),
    }


def _stop_children() -> None:
    """The app's process pools' workers hold this process's output open: stop them first."""
    if "multiprocessing" not in sys.modules:
        return
    import multiprocessing

    for child in multiprocessing.active_children():
        with contextlib.suppress(Exception):
            child.kill()


def main(argv: list[str]) -> int:
    factory = "--factory" in argv
    args = [a for a in argv[1:] if a != "--factory"]
    request, requests = Request(), []
    if len(args) == 4 and args[2] == "--request":
        if args[1] == "*":
            requests = [Request.from_json(json.dumps(r)) for r in json.loads(args[3])]
        else:
            request = Request.from_json(args[3])
        args = args[:2]
    if len(args) != 2:
        print("usage: python -m _bench_diagnosis.diagnose APP /path|-|* [--factory] [--request JSON]", file=sys.stderr)
        return 2
    spec, path = args
    threading.excepthook = lambda args: None  # a thread the stand-in sleeps hurried along may fail: not ours
    try:
        if path == "*":
            doc: dict[str, Any] = diagnose_every(spec, factory, requests)
        else:
            doc = diagnose(spec, path, factory, request)
    except BadApp as exc:
        doc = {"app": spec, "path": path, "bad": str(exc)}
    out = os.environ.get("BENCH_DIAGNOSIS_OUT")  # its own channel: what the app prints is never glued to it
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(json.dumps(doc) + "\n")
    else:
        sys.stdout.write(json.dumps(doc) + "\n")
        sys.stdout.flush()
    _stop_children()
    os._exit(0)  # do not wait for the app's threads: their sleeps no longer sleep, but they are not ours


if __name__ == "__main__":
    sys.exit(main(sys.argv))
