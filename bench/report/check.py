"""``bench check`` in the terminal: one route's diagnosis with four tabs predicted, or every route in a table."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bench.model.ownapp import (
    Diagnosis,
    Prediction,
    Strategy,
    blocking_sentences,
    culprit,
    endpoint_text,
    held_per_request,
)
from bench.model.ownapp_calls import KIND_WORDS


def build_check(diagnosis: Diagnosis, strategy: Strategy, rows: list[Prediction], clients: int, gap_s: float) -> Group:
    """``bench check``: the blocking calls with file:line, and four tabs predicted for this app and each fix."""
    text = Text()
    text.append(f"{diagnosis.app}: {diagnosis.method} {diagnosis.path}\n", style="bold")
    if diagnosis.body:
        text.append(f"with the body {diagnosis.body}\n", style="dim")
    sentences = blocking_sentences(endpoint_text(diagnosis), diagnosis.calls)
    if not any(blocks for _, blocks in sentences):
        text.append("nothing holds the event loop\n", style="green")
    for line, blocks in sentences:
        text.append(f"{line}\n", style="red" if blocks else "")
    if diagnosis.problem:
        text.append(f"{diagnosis.problem}\n", style="yellow")
    text.append(f"inferred: {strategy.why}\n")
    d = strategy.seconds_written
    source = "measured once" if strategy.cpu_bound else "as the code writes it"
    unit = f"d = {d:.3g} s, the work's duration {source}" if d else "d taken as 1 s: no work was seen"
    table = Table(title=f"{clients} tabs {gap_s:g} s apart, predicted ({unit})", title_justify="left")
    table.add_column("strategy")
    table.add_column("all answered", justify="right")
    table.add_column("all done", justify="right")
    for r in rows:
        table.add_row(r.label, f"{r.all_responded_s:.2f} s", f"{r.all_done_s:.2f} s")
    return Group(text, table)


def build_check_every(
    app: str, rows: list[tuple[Diagnosis, Strategy | None, Prediction | None]], clients: int, gap_s: float
) -> Table:
    """``bench check`` with no route named: one row per route."""
    table = Table(title=f"{app}: every route, {clients} tabs {gap_s:g} s apart predicted", title_justify="left")
    for name, justify in (("route", "left"), ("what holds the loop", "left"), ("kind", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("held per request", justify="right")
    table.add_column(f"{clients} tabs all done", justify="right")
    for d, strategy, tabs in rows:
        route = f"{d.method} {d.path}"
        if d.bad is not None or strategy is None:
            table.add_row(route, Text(d.bad or "not diagnosed", style="yellow"), "", "", "")
            continue
        c = culprit(d)
        what = "nothing" if c is None else f"{c.file}:{c.line} {c.text or c.call}"
        kind = "" if c is None else KIND_WORDS[c.kind]
        held = held_per_request(d)
        done = f"{tabs.all_done_s:.2f} s" if tabs is not None and strategy.seconds_written else "—"
        table.add_row(route, Text(what, style="red" if c else "green"), kind, f"{held:.3f} s", done)
    return table
