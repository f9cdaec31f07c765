"""``bench load URL``: HTTP load like wrk (closed loop) or wrk2 -R (open loop), saved as a run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from bench import results
from bench.cli import console, status
from bench.cli.app_options import request_of, request_options
from bench.cli.options import (
    FiniteRange,
    client_option,
    results_option,
)
from bench.errors import BenchError, RunFailed
from bench.lab.loadrun import CLOSED_LOOP_CONNECTIONS, LoadSpec, check_listening, run_load
from bench.lab.session import new_run_id
from bench.model.scenario import ClientKind
from bench.report import load as loadreport
from bench.report.live import LoadProgress


@click.command("load")
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
    default=30.0,
    show_default=True,
    help="Seconds a request may take before it counts as a timeout error (exactly: a later answer is one).",
)
@click.option(
    "-t",
    "--threads",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes firing the load (like wrk's threads), each on its own core; their figures are merged.",
)
@click.option(
    "--per-connection",
    is_flag=True,
    help="With --rate: wrk2's schedule, -c connections [default: 10] each keeping rate/c and its own queue "
    "(a request waits for its connection, not the first free one).",
)
@click.option(
    "--no-keepalive",
    is_flag=True,
    help="A new connection for every request (Connection: close), as hey -disable-keepalive.",
)
@click.option(
    "--fail-non-2xx",
    is_flag=True,
    help="Exit with code 3 when any answer's status is outside 200-299 (they are always counted).",
)
@request_options
@client_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON document and nothing else.")
@click.option("--allow-remote", is_flag=True, help="Allow a target that is not a loopback address.")
@results_option
def command(
    url: str,
    connections: int | None,
    duration: float | None,
    rate: float | None,
    total: int | None,
    timeout: float,
    threads: int,
    per_connection: bool,
    no_keepalive: bool,
    fail_non_2xx: bool,
    method: str,
    headers: tuple[str, ...],
    body: str | None,
    body_file: Path | None,
    content_type: str | None,
    client: ClientKind,
    as_json: bool,
    allow_remote: bool,
    out_dir: Path,
) -> None:
    """Fire HTTP load at URL, like wrk (closed loop) or wrk2 -R (--rate, open loop).

    Saved as a run under --out (run.json and report.html): bench show, compare and export
    work on it."""
    request = replace(request_of(method, headers, body, body_file, content_type), keep_alive=not no_keepalive)
    if per_connection and (rate is None or client != "raw"):
        raise BenchError("--per-connection: a schedule for the open loop of the raw client (give --rate)")
    if per_connection and connections is None:
        connections = CLOSED_LOOP_CONNECTIONS  # wrk2's pool is -c, 10 unless given
    spec = replace(
        LoadSpec.of(url, allow_remote, connections, duration, rate, total, timeout, client, request),
        threads=threads,
        per_connection=per_connection,
    )
    if threads > 1 and client != "raw":
        raise BenchError("-t: processes fire the raw client only (give --client raw)")
    console.clean_up(out_dir)
    check_listening(spec)
    folder = results.prepare_folder(out_dir / new_run_id("load"))
    progress = LoadProgress(spec.duration_s, spec.total)
    with console.live(progress, console.err_console() if as_json else console.console(), transient=True):
        doc = run_load(spec, folder, progress.observe, console.events_with_pages(), on_start=progress.start)
    figures = doc.figures
    if as_json:
        console.echo_document(figures.model_dump_json(indent=2) + "\n")
        click.echo(console.saved_line(folder), err=True)
    else:
        out = console.console()
        out.print(loadreport.build(figures))
        out.print(f"\n{console.saved_line(folder)}")
    console.check_saved(folder)
    if figures.interrupted:
        raise status.Ended(status.INTERRUPTED)
    if figures.requests == 0:
        raise RunFailed(f"every request failed ({', '.join(f'{k}: {v}' for k, v in figures.errors.items())})")
    if fail_non_2xx and figures.non_2xx:
        raise status.Ended(status.GATE, f"--fail-non-2xx: {figures.non_2xx} of {figures.requests} answers were not 2xx")
    if figures.dropped:  # the open loop could not keep its promise: its figures are not the rate asked for
        raise status.Ended(status.FAILED, f"{figures.dropped} requests were never sent before the load ended")
