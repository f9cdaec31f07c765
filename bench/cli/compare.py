"""``bench compare RUN RUN [RUN...]``: later runs against the first, figure by figure, noise told apart."""

from __future__ import annotations

from pathlib import Path

import click

from bench import results
from bench.cli import console, status
from bench.cli.options import FiniteRange, complete_run, results_option
from bench.report import compare as comparing


@click.command("compare")
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
def command(runs: tuple[str, ...], fmt: str, fail_pct: float | None, out_dir: Path) -> None:
    """Compare runs (bench run or bench load) figure by figure with the first, noise told apart.

    With repeated runs (bench run --runs N) a change is judged by Welch's t-test; else
    against the noise floor. Exit 3 with --fail-if-slower when a figure got slower."""
    if len(runs) < 2:
        raise click.UsageError("compare needs two runs or more (the first is the baseline)")
    docs = [results.load(results.find_run(ref, out_dir)) for ref in runs]
    comparisons = comparing.compare_all(docs)
    if fmt == "json":
        console.echo_document(comparing.to_json(docs, comparisons, fail_pct))
    elif fmt == "markdown":
        click.echo(comparing.to_markdown(docs, comparisons), nl=False)
    else:
        console.console().print(comparing.build_table(docs, comparisons))
    if fail_pct is not None:
        slower = comparing.slowdowns(comparisons, fail_pct)
        if slower:
            run_id, worst = max(slower, key=lambda x: x[1].slower_pct or 0.0)
            raise status.Ended(
                status.GATE,
                f"--fail-if-slower {fail_pct:g}: {len(slower)} figures slower beyond noise; the worst: "
                f"{worst.variant} {worst.figure} {worst.slower_pct:.0f}% slower in {run_id}",
            )
