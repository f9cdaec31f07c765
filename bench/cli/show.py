"""``bench show [RUN]``: a saved run or load rendered again."""

from __future__ import annotations

from pathlib import Path

import click

from bench import results
from bench.cli import console
from bench.cli.options import complete_run, results_option
from bench.model.document import LoadDocument
from bench.report import load as loadreport
from bench.report import terminal


@click.command("show")
@click.argument("run_ref", metavar="[RUN]", required=False, shell_complete=complete_run)
@results_option
def command(run_ref: str | None, out_dir: Path) -> None:
    """Re-render a saved run or load (the newest one when RUN is not given)."""
    doc = results.load(results.find_run(run_ref, out_dir))
    if isinstance(doc, LoadDocument):
        console.console().print(loadreport.build(doc.figures, f"{doc.run_id} ({doc.status}): {doc.command}"))
    else:
        console.console().print(terminal.build_run(doc))
