"""The diagnosis of a learner's app: which call blocks the event loop, and where.

``python -m _bench_diagnosis.diagnose PATH.py:ATTR /push/{token}`` (this module, handed to
the app's Python under a name of its own by ``bench.lab.interpreter``) imports the app in a
fresh interpreter (its working directory a scratch folder, so nothing lands in the
learner's folder), sends it one request in process (straight through ASGI, no server) and
prints one JSON document on stdout (``bench.model.ownapp.Diagnosis``). Standard library
and relative imports only: it runs under the learner's Python and versions.

How it finds the line: the ``blockbuster`` package wraps the blocking functions of the
standard library (``time.sleep``, file and socket I/O...) and raises ``BlockingError``
when one runs on the event loop, called from the learner's module. The traceback names
the learner's frames: the endpoint, the helpers it went through, the line of the call.
A static linter sees only calls written directly inside an ``async def``; this sees the
call wherever it is.

How it stays quick: ``time.sleep`` and ``asyncio.sleep`` are replaced by versions that
note what they were asked for (the work's duration, and whether it ran on the loop, in a
thread, before or after the answer) and return at once. A listing whose work sleeps 15 s
is diagnosed in well under a second. After each ``BlockingError`` the same request runs
again with that call site allowed, so every blocking call on its path is found.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .appimport import BadApp, import_app, tail
from .routes import NoRoute, body_schema, choose, match, routes, scope

MAX_PASSES = 8  # blocking call sites found one per pass
GRACE_S = 0.3  # after the answer: background tasks get this long to show what they do


@dataclass
class Call:
    call: str
    file: str
    line: int
    via: list[str]
    blocks_loop: bool
    seconds: float | None = None
    after_answer: bool = False
    function: str = ""  # the endpoint: the outermost of the learner's frames
    function_name: str = ""  # the innermost: where the call is written

    def found(self, folder: Path) -> dict[str, Any]:
        """What the harness reads (``bench.model.ownapp_calls.FoundCall``'s fields): the file
        relative to the app's folder, the frames' names kept here."""
        return {
            "call": self.call,
            "file": _short(self.file, folder),
            "line": self.line,
            "via": self.via,
            "blocks_loop": self.blocks_loop,
            "seconds": self.seconds,
            "after_answer": self.after_answer,
        }


@dataclass
class Observed:
    status: int | None = None
    answered_at: float | None = None
    calls: list[Call] = field(default_factory=list)
    error: BaseException | None = None


class _Sleeps:
    """Fast stand-ins for time.sleep and asyncio.sleep that note each call."""

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)
        self.observed: Observed | None = None
        self.real_asyncio_sleep = asyncio.sleep

    def user_frames(self, frames: list[traceback.FrameSummary]) -> list[traceback.FrameSummary]:
        return [f for f in frames if f.filename.startswith(self.folder) and "site-packages" not in f.filename]

    def note(self, name: str, seconds: Any, blocks: bool) -> None:
        obs = self.observed
        frames = self.user_frames(traceback.extract_stack()[:-2])
        if obs is None or not frames:
            return
        try:
            on_loop = asyncio.get_running_loop() is not None
        except RuntimeError:
            on_loop = False
        value = float(seconds) if isinstance(seconds, (int, float)) else None
        obs.calls.append(
            Call(
                call=name,
                file=frames[-1].filename,
                line=frames[-1].lineno or 0,
                via=[f.name for f in frames[1:]],
                blocks_loop=blocks and on_loop,
                seconds=value,
                after_answer=obs.answered_at is not None,
                function=frames[0].name,
                function_name=frames[-1].name,
            )
        )

    def time_sleep(self, seconds: float) -> None:
        self.note("time.sleep", seconds, blocks=True)

    async def asyncio_sleep(self, delay: float, result: Any = None) -> Any:
        self.note("asyncio.sleep", delay, blocks=False)
        return await self.real_asyncio_sleep(0, result)


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

    task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send))
    done, _ = await asyncio.wait(
        {task, asyncio.ensure_future(started.wait())}, timeout=10, return_when="FIRST_COMPLETED"
    )
    if task in done and task.exception() is not None and not started.is_set():
        exc = task.exception()
        if isinstance(exc, BadApp):
            raise exc
        # Apps that do not speak lifespan raise on its scope: that is not an error.


async def _one_request(app: Any, path: str, sleeps: _Sleeps, request: Request) -> Observed:
    obs = Observed()
    sleeps.observed = obs
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

    task = asyncio.ensure_future(app(scope(path, request.method, request.headers), receive, send))
    deadline = time.monotonic() + 10
    while not task.done() and time.monotonic() < deadline:
        if obs.answered_at is not None and time.monotonic() - obs.answered_at > GRACE_S:
            break
        await sleeps.real_asyncio_sleep(0.01)
    if task.done() and not task.cancelled() and task.exception() is not None:
        obs.error = task.exception()
    elif not task.done():  # background work still going: it was seen starting, which is all we need
        task.cancel()
        await asyncio.wait({task}, timeout=1)
    return obs


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
    from blockbuster import BlockBuster, BlockingError

    request = request or Request()
    app, module, folder = import_app(spec, factory)
    listed = routes(app)
    chosen: dict[str, Any] = {}
    try:
        if path == "-":  # no path given: the app's routes decide, the method included
            method, route_path = choose(app, request.route)
            request.method, path = method, template(route_path).replace("{token}", "diagnosis")
            chosen = {"method": method, "route_path": template(route_path)}
            schema = body_schema(app, method, route_path) if method in ("POST", "PUT", "PATCH") else None
            if schema is not None and not request.body:  # the harness builds a valid body, then asks again
                return {"app": spec, "path": path, **chosen, "routes": [n for n, _ in listed], "needs_body": schema}
        route = match(app, path, request.method)
    except NoRoute as exc:
        raise BadApp(str(exc)) from None
    endpoint = getattr(route, "endpoint", None)
    sleeps = _Sleeps(folder)
    time.sleep = sleeps.time_sleep  # type: ignore[assignment]
    asyncio.sleep = sleeps.asyncio_sleep
    buster = BlockBuster(scanned_modules=[module])
    calls: list[Call] = []
    status: int | None = None
    answered = False
    problem: str | None = None
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda loop, context: None)  # the app's tasks left pending at exit are not news
    try:
        loop.run_until_complete(_lifespan(app))
        buster.activate()
        for _ in range(MAX_PASSES):
            obs = loop.run_until_complete(_one_request(app, path, sleeps, request))
            error = obs.error
            blocking = _blocking_error(error, BlockingError)
            if blocking is None:  # the clean pass: what the stand-ins saw is the truth about order and duration
                for c in obs.calls:
                    known = next((k for k in calls if _same(c, k)), None)
                    if known is None:
                        calls.append(c)
                    else:
                        known.seconds, known.after_answer = c.seconds, c.after_answer
                status, answered = obs.status, obs.answered_at is not None
                if error is not None:
                    problem = f"the app raised on the request:\n{tail(error)}"
                break
            found = _from_traceback(blocking, sleeps, obs)
            if found is None or any(_same(found, k) for k in calls):
                problem = f"a blocking call outside your files: {blocking}"
                break
            calls.append(found)
            buster.functions[found.call].can_block_in(found.file, {found.function_name})  # and look further
    finally:
        buster.deactivate()
        sleeps.observed = None
    return {
        "app": spec,
        "path": path,
        "method": request.method,
        **chosen,
        "routes": [name for name, _ in listed],
        "endpoint": _describe_endpoint(endpoint),
        "status": status,
        "answered": answered,
        "calls": [c.found(folder) for c in calls],
        "problem": problem,
    }


def _blocking_error(error: BaseException | None, kind: type[BaseException]) -> BaseException | None:
    """The BlockingError behind ``error`` (FastAPI may wrap it in an exception group)."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, kind):
            return error
        inner = getattr(error, "exceptions", None)
        error = inner[0] if inner else (error.__cause__ or error.__context__)
        seen += 1
    return None


def _from_traceback(error: BaseException, sleeps: _Sleeps, obs: Observed) -> Call | None:
    frames = sleeps.user_frames(traceback.extract_tb(error.__traceback__))
    if not frames:
        return None
    name = str(error).removeprefix("Blocking call to ").split("(")[0].strip()
    return Call(
        call=name,
        file=frames[-1].filename,
        line=frames[-1].lineno or 0,
        via=[f.name for f in frames[1:]],
        blocks_loop=True,
        function=frames[0].name,
        function_name=frames[-1].name,
    )


def _same(a: Call, b: Call) -> bool:
    return (a.call, a.file, a.line) == (b.call, b.file, b.line)


def _short(file: str, folder: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(file).relative_to(folder))
    return file


def _describe_endpoint(endpoint: Any) -> dict[str, Any] | None:
    if endpoint is None:
        return None
    try:
        file = inspect.getsourcefile(endpoint) or ""
        line = inspect.getsourcelines(endpoint)[1]
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


def main(argv: list[str]) -> int:
    factory = "--factory" in argv
    args = [a for a in argv[1:] if a != "--factory"]
    request = Request()
    if len(args) == 4 and args[2] == "--request":
        request = Request.from_json(args[3])
        args = args[:2]
    if len(args) != 2:
        print("usage: python -m _bench_diagnosis.diagnose APP /path|- [--factory] [--request JSON]", file=sys.stderr)
        return 2
    spec, path = args
    threading.excepthook = lambda args: None  # a thread the stand-in sleeps hurried along may fail: not ours
    try:
        doc: dict[str, Any] = diagnose(spec, path, factory, request)
    except BadApp as exc:
        doc = {"app": spec, "path": path, "bad": str(exc)}
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()
    os._exit(0)  # do not wait for the app's threads: their sleeps no longer sleep, but they are not ours


if __name__ == "__main__":
    sys.exit(main(sys.argv))
