"""A learner's own app in the lab: from ``--app [NAME=]PATH.py:ATTR`` to a variant the runner runs.

Three steps, none of which touches the learner's folder:

1. parse what was given (``NAME=PATH.py:ATTR`` or ``module:attr``) into an ``OwnApp``;
2. diagnose it (``bench.lab.diagnose`` in a fresh interpreter whose working folder is a
   scratch folder of the run): its blocking calls, its routes; a file that is missing, does
   not import or has no such app is refused here, before any server starts;
3. from the diagnosis infer the strategy (``bench.model.ownapp``) and so the variant: work
   slots and answers, as the lab's own variants declare them by hand.

The time scale does not reach an own app's work (its duration is the app's own, and
measured); it scales the load's gaps and durations only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench import contract
from bench.contract import IMPORT_STRING
from bench.engine import forking
from bench.engine.processes import last_lines, stop
from bench.errors import BenchError
from bench.lab import interpreter
from bench.lab.appimport import module_of
from bench.model.bodies import NoBody, body_for
from bench.model.ownapp import Diagnosis, endpoint_text, infer
from bench.model.request import RequestSpec, safe_path
from bench.model.scenario import NAME_PATTERN, OWN_APP, OwnApp, Variant

DIAGNOSIS_TIMEOUT_S = 60
GET_REQUEST = RequestSpec()


@dataclass(frozen=True)
class AppSettings:
    """How the command line says to run own apps: where the load goes and what it sends, the
    done marker, how the app is built and configured."""

    path: str | None = None  # None: the app's routes decide
    route: str | None = None  # "POST /notify/{user_id}", when the app has several
    request: RequestSpec = GET_REQUEST
    done_file: str | None = contract.HUMAN_LOG_FILE
    done_pattern: str = "{token}"
    factory: bool = False
    env: tuple[tuple[str, str], ...] = ()
    python: str | None = None


def parse_app_option(text: str, settings: AppSettings = AppSettings()) -> tuple[str, OwnApp]:
    """``[NAME=]PATH.py:ATTR`` or ``[NAME=]module:attr`` from the command line: (name, app).

    The name defaults to the file's stem (or the module's name), made a valid variant name."""
    path = None if settings.path is None else safe_path(settings.path)  # one line, never a traceback
    name, sep, spec = text.partition("=")
    if not sep:
        name, spec = "", text
    file = OWN_APP.match(spec)
    if file:
        spec = f"{Path(file['file']).resolve()}:{file['attr']}"
        stem = module_of(Path(file["file"]))[1]  # inside a package: pkg_app/main.py names pkg-app-main
    elif re.match(IMPORT_STRING, spec):
        stem = spec.partition(":")[0]  # the whole dotted path: pkg_app.main names pkg-app-main, not main
    else:
        raise BenchError(f"--app {text}: give PATH.py:ATTR or module:attr, optionally NAME= first")
    name = name or re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-") or "app"
    if not re.match(NAME_PATTERN, name):
        raise BenchError(f"--app {text}: the name {name!r} must be lower-case letters, digits and -, at most 40")
    request = settings.request
    if settings.done_file and Path(settings.done_file).is_absolute() and Path(settings.done_file).is_dir():
        raise BenchError(f"--done-file {settings.done_file}: a folder; give the file the app writes its lines to")
    try:
        own = _own_app(spec, path, settings, request)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "path" if settings.path else ""  # () : the request's
        option = OPTIONS.get(field, "--app")
        shown = {"--path": settings.path, "--done-file": settings.done_file, "--done-pattern": settings.done_pattern}
        given = f" {shown[option]}" if shown.get(option) is not None else ""
        raise BenchError(f"{option}{given}: {first['msg'].removeprefix('Value error, ')}") from None
    return name, own


OPTIONS = {"path": "--path", "done_file": "--done-file", "done_pattern": "--done-pattern", "route": "--route"}


def _own_app(spec: str, path: str | None, settings: AppSettings, request: RequestSpec) -> OwnApp:
    return OwnApp(
        spec=spec,
        path=path,
        route=settings.route,
        method=request.method,
        headers=tuple(f"{k}: {v}" for k, v in request.headers),
        body=request.body.decode("utf-8", "replace"),
        done_file=settings.done_file or None,
        done_pattern=settings.done_pattern,
        factory=settings.factory,
        env=settings.env,
        python=settings.python,
    )


def own_variants(apps: tuple[str, ...], settings: AppSettings, workers: int = 1) -> tuple[Variant, ...]:
    """The ``--app`` options as variants, each still to be diagnosed (``resolve``)."""
    owns = [parse_app_option(a, settings) for a in apps]
    variants = tuple(Variant(name=n, title=o.spec, app=o.spec, workers=workers, own=o) for n, o in owns)
    if len({v.name for v in variants}) < len(variants):
        raise BenchError("two --app have the same name: give them names, e.g. --app blocking=sync.py:app")
    return variants


def resolve_all(variants: tuple[Variant, ...], folder: Path) -> tuple[Variant, ...]:
    """Every own app among ``variants`` diagnosed (in its folder of the run); the lab's own unchanged."""
    return tuple(
        v if v.own is None else resolve(v.name, v.own, v.workers, folder / v.name / "diagnosis") for v in variants
    )


def module_and_folder(own: OwnApp) -> tuple[str, Path]:
    """What uvicorn imports (``module:attr``) and from where (``--app-dir``): a file inside a
    package is imported as the package's module, from the package's root."""
    target, _, attr = own.spec.rpartition(":")
    if target.endswith(".py"):
        folder, module = module_of(Path(target))
        return f"{module}:{attr}", folder
    return own.spec, Path.cwd()


def diagnosis_of(own: OwnApp, scratch: Path | None = None) -> tuple[Diagnosis, OwnApp]:
    """Run the diagnosis in a fresh interpreter, in ``scratch`` (a temporary folder if None).

    Returns it with the app's request settled: with no path given, the app's route (its
    method too); a route that takes a JSON body and was given none gets one built from the
    app's OpenAPI schema (``bench.lab.bodies``), and the diagnosis is made with it."""
    if own.interpreter is None:
        found, said = interpreter.choose(own.python, _app_folder(own))
        own = own.model_copy(update={"interpreter": found, "interpreter_said": said})
    diagnosis = _in_child(own, scratch)
    if diagnosis.needs_body is not None:
        try:
            body = body_for(diagnosis.needs_body)
        except NoBody as exc:
            where = f"{diagnosis.method} {diagnosis.route_path}"
            raise BenchError(
                f"{where}: no valid body could be built from its schema ({exc}); give one with --body"
            ) from None
        own = own.model_copy(update={"method": diagnosis.method, "body": body})
        diagnosis = _in_child(own, scratch)
    if diagnosis.route_path is not None:
        own = own.model_copy(update={"path": diagnosis.route_path, "method": diagnosis.method})
    return diagnosis.model_copy(update={"path": own.path or diagnosis.path, "body": own.body}), own


def every_route(own: OwnApp) -> tuple[list[Diagnosis], OwnApp]:
    """Every route of the app diagnosed, in one child (a second for the routes that take a JSON
    body: built from their schemas, as for one route). A route that cannot be diagnosed has
    ``bad`` set; the others are unaffected."""
    if own.interpreter is None:
        found, said = interpreter.choose(own.python, _app_folder(own))
        own = own.model_copy(update={"interpreter": found, "interpreter_said": said})
    raw = _child_document(own, None, "*", [])
    out = [Diagnosis.model_validate(d) for d in raw.get("each", [])]
    bodies: list[dict[str, Any]] = []
    for d in out:
        if d.needs_body is not None:
            try:
                json_type = [["content-type", "application/json"]]
                built = body_for(d.needs_body)
                bodies.append({"method": d.method, "route": d.route, "body": built, "headers": json_type})
            except NoBody as exc:
                d.bad = f"{d.method} {d.route_path}: no valid body could be built from its schema ({exc})"
    if bodies:
        again = [Diagnosis.model_validate(d) for d in _child_document(own, None, "*", bodies)["each"]]
        for i, d in enumerate(out):
            redone = next((r for r in again if r.route == d.route), None)
            if redone is not None:
                out[i] = redone
    for i, d in enumerate(out):
        sent: str = next((b["body"] for b in bodies if b["route"] == d.route), "")
        out[i] = d.model_copy(update={"path": d.route_path or d.path, "body": sent})
    return out, own


def _in_child(own: OwnApp, scratch: Path | None) -> Diagnosis:
    sample = "-" if own.path is None else own.path.replace("{token}", "diagnosis")
    spec = own.request
    request = {"method": spec.method, "headers": spec.headers, "body": own.body, "route": own.route}
    diagnosis = Diagnosis.model_validate(_child_document(own, scratch, sample, request))
    if diagnosis.bad:
        raise BenchError(diagnosis.bad)
    return diagnosis


def _child_document(own: OwnApp, scratch: Path | None, sample: str, request: object) -> dict[str, Any]:
    """The diagnosis child's JSON document for ``sample`` (a path, ``-`` or ``*``)."""
    with tempfile.TemporaryDirectory(prefix="bench-check-") as temp:
        folder = scratch or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        _, app_dir = module_and_folder(own)
        found = own.interpreter or interpreter.harness()
        module = f"{interpreter.CHILD_PACKAGE}.diagnose"
        command = [found.path, "-m", module, own.spec, sample, "--request", json.dumps(request)]
        handed = [str(interpreter.handed(found, (folder / "handed").resolve()))]  # the child runs elsewhere
        out, log = folder / "diagnosis.json", folder / "diagnosis.log"
        out.unlink(missing_ok=True)
        env = {**_env(app_dir, handed), **dict(own.env), "BENCH_DIAGNOSIS_OUT": str(out.resolve())}
        # Owned like every server (its session, the mark, the lifeline): the learner's code runs in
        # it, and whatever that code starts is stopped with it, even when bench itself is killed.
        child = forking.start_module([*command, *(["--factory"] if own.factory else [])], log, env, folder)
        try:
            child.wait(timeout=DIAGNOSIS_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{own.spec}: the diagnosis did not finish in {DIAGNOSIS_TIMEOUT_S} s") from None
        finally:
            stop(child, grace_s=1.0)
        try:
            lines = out.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        if not lines:
            said = [line for line in last_lines(log, 9).splitlines() if not line.startswith("$ ")][-8:]
            tail = "\n".join(said or ["(it printed nothing)"])
            raise BenchError(f"{own.spec}: could not be diagnosed:\n{tail}")
    document: dict[str, Any] = json.loads(lines[-1])
    if document.get("bad") and sample == "*":
        raise BenchError(str(document["bad"]))
    return document


def _env(app_dir: Path, handed: list[str]) -> dict[str, str]:
    # ``module:attr`` imports from the folder bench was started in, as uvicorn would; under the
    # learner's Python, the diagnosis's own modules come from the folder handed to it
    path = [*handed, str(app_dir), os.environ.get("PYTHONPATH")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}


def _app_folder(own: OwnApp) -> Path | None:
    target = own.spec.rpartition(":")[0]
    return Path(target).resolve().parent if target.endswith(".py") else Path.cwd()


def resolve(name: str, own: OwnApp, workers: int, scratch: Path | None = None) -> Variant:
    """The variant for an own app: diagnosed (its route found when none was given), its strategy inferred."""
    diagnosis, own = diagnosis_of(own, scratch)
    strategy = infer(diagnosis)
    own = own.model_copy(
        update={
            "diagnosis": tuple(diagnosis.calls),
            "strategy": strategy.why,
            "endpoint": endpoint_text(diagnosis),
            "seconds_written": strategy.seconds_written,
            "rest_s": diagnosis.rest_s,
            "cpu_wait_s": diagnosis.cpu_wait_s,
        }
    )
    variant = Variant(
        name=name,
        title=f"your app {Path(own.spec.rpartition(':')[0]).name}:{own.spec.rpartition(':')[2]}",
        app=own.spec,
        workers=workers,
        work_slots=strategy.work_slots,
        answers=strategy.answers,
        own=own,
    )
    return variant
