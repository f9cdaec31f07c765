"""What every command shares to talk to a person: consoles, the live view, the saved line.

The lab tells its events to an ``Events`` hook; here the commands subscribe the live
board (redrawn by rich's ``Live`` on a terminal) and the HTML writer to it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console, RenderableType
from rich.live import Live

from bench import contract, results
from bench.errors import RunFailed
from bench.lab import leftovers
from bench.lab.catalog import default_scenarios_path, load_catalog
from bench.model.document import RunDocument
from bench.model.events import Event, Events, RunEnded
from bench.model.scenario import Catalog
from bench.report import html

WIDE = 120  # for output that is not a terminal (files, CI logs, the README capture)


class PlainConsole(Console):
    """A console for files, pipes and CI logs: 120 columns, and lines without the trailing
    spaces rich pads every line of a table or a padded block with."""

    def print(self, *objects: Any, **options: Any) -> None:
        with self.capture() as captured:
            super().print(*objects, **options)
        text = "\n".join(line.rstrip() for line in captured.get().split("\n"))
        self.file.write(text)
        self.file.flush()


def console(file: IO[str] | None = None) -> Console:
    """A console on stdout (or ``file``): rich's own on a terminal, else a ``PlainConsole``."""
    # markup off: a "[" in a title or a learner's route is text, never a style (the report styles with Text)
    out = Console(file=file, highlight=False, markup=False)
    if not out.is_terminal:
        out = PlainConsole(file=file, highlight=False, markup=False, width=WIDE)
    return out


def err_console() -> Console:
    return console(sys.stderr)


def echo_document(text: str) -> None:
    """Print a document (``--json``) whole. With unbuffered output (``PYTHONUNBUFFERED``, ``-u``)
    a write to a pipe is one system call, and a signal arriving once part is written ends it
    there: a run's 200 requests were cut at 64 KiB, the pipe's size, with exit code 0. So the
    bytes are written until none is left."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's capture): it takes it whole
        click.echo(text, nl=False)
        return
    sys.stdout.flush()
    data = memoryview(text.encode("utf-8", errors="replace"))
    while data:
        data = data[os.write(fd, data) :]


def clean_up(out_dir: Path) -> None:
    """Before starting anything: stop what a harness that died left behind, and say so."""
    abandoned: list[tuple[RunDocument, Path]] = []
    for line in leftovers.clean_up(out_dir, abandoned):
        click.echo(line, err=True)
    for doc, folder in abandoned:  # its page, as it stood when its bench died: what finished is there to read
        with contextlib.suppress(OSError):
            html.write_any(doc, folder)


def catalog(path: Path | None) -> Catalog:
    return load_catalog(path if path is not None else default_scenarios_path())


def catalog_dir(catalog: Catalog) -> Path:
    """The folder the catalog's server apps are imported from."""
    return Path(catalog.source).resolve().parent


def saved_line(folder: Path) -> str:
    if results.unsaved(folder) is not None:
        return f"not saved: {results.unsaved(folder)}"
    return f"saved: {folder / results.RUN_FILE} and {folder / contract.REPORT_PAGE}"


def check_saved(folder: Path) -> None:
    """After the figures are printed: a run that could not be saved ends as a failure, saying why."""
    why = results.unsaved(folder)
    if why is not None:
        raise RunFailed(f"error: {why}; the figures printed are all there is of this run")


def write_pages(event: Event) -> None:
    """The HTML writer: a run's page is written when the run ends (complete or interrupted)."""
    if isinstance(event, RunEnded):
        try:
            html.write_any(event.doc, event.folder)
        except OSError as exc:  # a full disk: the figures are printed all the same, and the failure said
            results.note_unsaved(event.folder / contract.REPORT_PAGE, exc)


@contextmanager
def live(renderable: RenderableType, on: Console, transient: bool = False) -> Iterator[None]:
    """``renderable`` redrawn 8 times a second while the block runs, on a terminal only."""
    if not on.is_terminal:
        yield
        return
    with Live(renderable, console=on, refresh_per_second=8, transient=transient):
        yield


def events_with_pages() -> Events:
    """A hook with the HTML writer subscribed: what every command that runs something starts from."""
    return Events().subscribe(write_pages)
