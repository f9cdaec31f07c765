"""Exit codes, and the one wrapper that turns how a command ended into one of them (pip's
``status_codes`` + ``_run_wrapper``).

A command returns normally (0) or raises; nothing else calls ``sys.exit``. The user's
mistakes are one line on stderr, never a traceback; the lab's ``RunFailed`` and a
command's own ``Ended`` carry their message and code.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn

import click

from bench.errors import BenchError, RunFailed

SUCCESS = 0
FAILED = 1  # a variant or a load failed: the input was fine, the run could not be made
USAGE = 2  # bad input or a missing prerequisite: the user's to fix
GATE = 3  # --check: a claim failed; --fail-if-slower: a figure got slower beyond noise
INTERRUPTED = 130  # Ctrl-C or SIGTERM: everything stopped, what was measured kept


class Ended(Exception):
    """A command's end other than success: ``message`` (if any) goes to stderr, then ``code``."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def printable(text: str) -> str:
    """What the user typed, echoed in an error, with its control characters escaped: the
    message stays on its lines and cannot move the terminal's cursor."""
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def _sigterm_as_interrupt(signum: int, frame: object) -> None:
    # Let SIGTERM (SIGHUP, SIGQUIT) take the same path as Ctrl-C, so teardown runs and nothing is orphaned.
    os.kill(os.getpid(), signal.SIGINT)


def run_wrapper(command: click.Command, argv: list[str] | None) -> NoReturn:
    """Run ``command`` on ``argv`` and exit with the code its end maps to."""
    # A job started in the background by a script inherits SIGINT ignored; the harness must
    # still stop its processes on an interrupt, so Ctrl-C and SIGTERM always take that path.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # SIGTERM, a closed terminal (SIGHUP) and Ctrl-\ (SIGQUIT) too: each would end the harness
    # without its teardown, and the run would not be saved as interrupted
    for ending in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(ending, _sigterm_as_interrupt)
    sys.exit(_status(command, argv))


def _status(command: click.Command, argv: list[str] | None) -> int:
    try:
        command.main(args=argv, prog_name="bench", standalone_mode=False)
    except Ended as end:
        if end.message:
            click.echo(end.message, err=True)
        return end.code
    except BenchError as exc:
        click.echo(f"error: {printable(str(exc))}", err=True)
        return USAGE
    except RunFailed as exc:
        click.echo(printable(str(exc)), err=True)
        return FAILED
    except click.exceptions.Abort:
        return INTERRUPTED
    except click.UsageError as exc:  # one line, not click's three
        where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        click.echo(f"error: {printable(exc.format_message())}{where}", err=True)
        return USAGE
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return INTERRUPTED
    return SUCCESS
