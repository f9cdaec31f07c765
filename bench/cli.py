"""The ``bench`` command. A table of contents: parse, load the scenario, run, report, save.

Errors the user can fix (bad scenario file, unknown name, missing run) are one or two
lines on stderr with exit code 2 and no traceback; Ctrl-C stops the run, its servers
and keeps the variants already finished (exit 130).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.live import Live

from bench import export as exporters
from bench import report, results
from bench.errors import USAGE_EXIT_CODE, BenchError
from bench.live import Board
from bench.runner import RunPlan
from bench.scenario import Catalog, default_scenarios_path, load_catalog
from bench.session import new_run_id, run_scenario

F = TypeVar("F", bound=Callable[..., Any])
INTERRUPTED_EXIT_CODE = 130
WIDE = 120  # for output that is not a terminal (files, CI logs, the README capture)


def _console(file: Any = None) -> Console:
    console = Console(file=file, highlight=False)
    if not console.is_terminal:
        console = Console(file=file, highlight=False, width=WIDE)
    return console


def _catalog(path: Path | None) -> Catalog:
    return load_catalog(path if path is not None else default_scenarios_path())


def scenarios_option(f: F) -> F:
    return click.option(
        "--scenarios",
        "scenarios_file",
        type=click.Path(path_type=Path),
        default=None,
        help="A scenarios file other than the project's scenarios.yaml.",
    )(f)


def results_option(f: F) -> F:
    return click.option(
        "--out",
        "out_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("results"),
        show_default=True,
        help="Folder that holds the runs.",
    )(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """The concurrency lab: measure what each FastAPI concurrency strategy really buys."""


@cli.command("list")
@scenarios_option
def list_command(scenarios_file: Path | None) -> None:
    """The scenarios and the variants, one line each."""
    catalog = _catalog(scenarios_file)
    out = _console()
    out.print("[bold]scenarios[/bold]")
    for name, sc in catalog.scenarios.items():
        out.print(
            f"  {name:<18} {sc.title} ({sc.load.clients} clients, {sc.work.seconds:g} s of {sc.work.kind} "
            f"work; variants: {', '.join(sc.variants)})"
        )
    out.print("[bold]variants[/bold]")
    for name, v in catalog.variants.items():
        workers = f" --workers {v.workers}" if v.workers > 1 else ""
        out.print(f"  {name:<18} {v.title} [dim]({v.app}{workers})[/dim]")


@cli.command()
@click.argument("scenario")
@click.option("--variants", "only", default=None, help="Comma-separated subset of the scenario's variants.")
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0.001, max=10.0),
    default=1.0,
    show_default=True,
    help="Multiply every duration (work, gaps, theory): 0.1 turns 10 s into 1 s.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run document on stdout and nothing else.")
@results_option
@scenarios_option
def run(
    scenario: str,
    only: str | None,
    time_scale: float,
    as_json: bool,
    out_dir: Path,
    scenarios_file: Path | None,
) -> None:
    """Run SCENARIO against each of its server variants and check its claims."""
    catalog = _catalog(scenarios_file)
    sc = catalog.scenario(scenario)
    wanted = [n.strip() for n in only.split(",") if n.strip()] if only is not None else None
    variants = catalog.pick_variants(sc, wanted)
    app_dir = Path(catalog.source).resolve().parent
    plan = RunPlan.of(sc, time_scale, app_dir)
    folder = out_dir / new_run_id(sc.name)

    out = _console()
    progress_console = _console(sys.stderr) if as_json else out
    board = Board(sc.name, [v.name for v in variants])
    live: AbstractContextManager[Any] = (
        Live(board, console=progress_console, refresh_per_second=8)
        if progress_console.is_terminal
        else nullcontext()
    )

    def on_variant(result: results.VariantResult) -> None:
        if not as_json and not out.is_terminal:
            out.print(board.finished[-1] if board.finished else result.name)

    try:
        with live:
            doc = asyncio.run(run_scenario(plan, variants, folder, board, on_variant))
    except KeyboardInterrupt:
        click.echo(
            f"interrupted: servers stopped; finished variants kept in {folder / results.RUN_FILE}", err=True
        )
        sys.exit(INTERRUPTED_EXIT_CODE)
    if as_json:
        click.echo(results.to_json(doc), nl=False)
    else:
        out.print(report.build_run(doc))
        out.print(f"\nsaved: {folder / results.RUN_FILE}")
    if any(v.status == "failed" for v in doc.variants):
        sys.exit(1)


@cli.command()
@click.argument("run_ref", metavar="[RUN]", required=False)
@results_option
def show(run_ref: str | None, out_dir: Path) -> None:
    """Re-render a saved run (the newest one when RUN is not given)."""
    doc = results.load(results.find_run(run_ref, out_dir))
    _console().print(report.build_run(doc))


@cli.command()
@click.argument("run_a")
@click.argument("run_b")
@results_option
def compare(run_a: str, run_b: str, out_dir: Path) -> None:
    """Show two runs side by side, figure by figure."""
    a = results.load(results.find_run(run_a, out_dir))
    b = results.load(results.find_run(run_b, out_dir))
    _console().print(report.build_compare(a, b))


@cli.command("export")
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--format", "fmt", type=click.Choice(sorted(exporters.FORMATS)), default="json", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to this file instead of stdout.",
)
@results_option
def export_command(run_ref: str, fmt: str, output: Path | None, out_dir: Path) -> None:
    """Export a saved run as JSON, CSV (one row per request) or Markdown."""
    doc = results.load(results.find_run(run_ref, out_dir))
    text = exporters.FORMATS[fmt](doc)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def _sigterm_as_interrupt(signum: int, frame: object) -> None:
    # Let SIGTERM take the same path as Ctrl-C, so teardown runs and nothing is orphaned.
    os.kill(os.getpid(), signal.SIGINT)


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        cli.main(args=argv, prog_name="bench", standalone_mode=False)
    except BenchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(USAGE_EXIT_CODE)
    except click.exceptions.Abort:
        sys.exit(INTERRUPTED_EXIT_CODE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(INTERRUPTED_EXIT_CODE)
