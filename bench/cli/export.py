"""``bench export RUN``: a saved run as JSON, CSV or Markdown."""

from __future__ import annotations

from pathlib import Path

import click

from bench import results
from bench.cli.options import complete_run, results_option
from bench.report import export as exporters


@click.command("export")
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
def command(run_ref: str, fmt: str, output: Path | None, out_dir: Path) -> None:
    """Export a saved run as JSON, CSV (one row per request; per second for a load) or Markdown."""
    doc = results.load(results.find_run(run_ref, out_dir))
    text = exporters.FORMATS[fmt](doc)
    if output is None:
        click.echo(text, nl=False)
    else:
        results.write_file(output, text)
