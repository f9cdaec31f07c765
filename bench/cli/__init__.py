"""The ``bench`` command: a table of contents, one module per command.

Each command parses its options, loads the scenario, calls the lab to run, the report
to show, and ends; ``bench.cli.status`` maps how it ended to an exit code. Errors the
user can fix are one or two lines on stderr with exit code 2 and no traceback; Ctrl-C
stops the run and its servers and keeps what was measured (exit 130).

A command's module is imported when that command runs (or ``--help`` lists them all):
``bench show`` does not pay for the load engine, nor ``bench run`` for Locust's wrapper.
"""

from __future__ import annotations

import importlib

import click

from bench.cli.status import run_wrapper

COMMANDS = {  # the order of ``bench --help``: a command's name, then its module in bench.cli
    "list": "listing",
    "run": "run",
    "serve": "serve",
    "load": "load",
    "check": "check",
    "tour": "tour",
    "locust": "locust",
    "show": "show",
    "compare": "compare",
    "export": "export",
}


class _Commands(click.Group):
    """A group whose commands are imported by name, when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = importlib.import_module(f"bench.cli.{module}").command
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="concurrency-lab", prog_name="bench", message="%(prog)s %(version)s")
def cli() -> None:
    """The concurrency lab: measure what each FastAPI concurrency strategy really buys.

    Shell completion: eval "$(_BENCH_COMPLETE=bash_source bench)" in ~/.bashrc (zsh_source
    in ~/.zshrc; fish: _BENCH_COMPLETE=fish_source bench | source). See the docs."""


def main(argv: list[str] | None = None) -> None:
    run_wrapper(cli, argv)
