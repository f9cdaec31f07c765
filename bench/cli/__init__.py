"""The ``bench`` command: a table of contents, one module per command.

Each command parses its options, loads the scenario, calls the lab to run, the report
to show, and ends; ``bench.cli.status`` maps how it ended to an exit code. Errors the
user can fix are one or two lines on stderr with exit code 2 and no traceback; Ctrl-C
stops the run and its servers and keeps what was measured (exit 130).
"""

from __future__ import annotations

import click

from bench.cli import check, compare, export, listing, load, locust, run, serve, show, tour
from bench.cli.status import run_wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="concurrency-lab", prog_name="bench", message="%(prog)s %(version)s")
def cli() -> None:
    """The concurrency lab: measure what each FastAPI concurrency strategy really buys.

    Shell completion: eval "$(_BENCH_COMPLETE=bash_source bench)" in ~/.bashrc (zsh_source
    in ~/.zshrc; fish: _BENCH_COMPLETE=fish_source bench | source). See the docs."""


for module in (listing, run, serve, load, check, tour, locust, show, compare, export):
    cli.add_command(module.command)


def main(argv: list[str] | None = None) -> None:
    run_wrapper(cli, argv)
