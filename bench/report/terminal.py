"""Rich renderables built from a run document; printing is the caller's business.

``build_run(doc)`` returns one renderable with every table; tests render it to a string
with ``Console(file=io.StringIO(), width=...)``. The figures shown here are exactly the
ones saved in the document, so ``bench show`` re-renders a run faithfully.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from bench.model.document import ClaimResult, RunDocument, VariantResult
from bench.report.tables import (
    CLAIM_PROSE,
    Cell,
    Grid,
    capacity_grid,
    claims_grid,
    figures_grid,
    runs_grid,
    sweep_points,
    sweep_theory,
)
from bench.report.words import (
    describe_load,
    diagnosis_lines,
    figure,
    held_lines,
    mean_of,
    over_runs,
    seconds,
    theory_done,
)

MAX_TABS_SHOWN = 8  # beyond this, per-tab tables and timelines stop being readable
TONES = {"": "", "strong": "bold", "dim": "dim", "good": "green bold", "bad": "red bold", "warn": "yellow"}


def text_of(cell: Cell) -> Text:
    text = Text()
    for span in cell.spans:
        text.append(span.text, style=TONES[span.tone])
    return text


def rich_table(grid: Grid, title: str | None = None, **options: Any) -> Table:
    """A grid typeset for the terminal; ``options`` go to rich's ``Table``."""
    table = Table(title=Text(grid.title if title is None else title), title_justify="left", **options)
    for i, column in enumerate(grid.columns):
        # a variant's name is never cut ("other-route-g…"): the other columns wrap instead
        whole = max((len(row[i].plain) for row in grid.rows), default=0) if column.key == "variant" else None
        table.add_column(column.title, justify="right" if column.numeric else "left", min_width=whole)
    ends = set(grid.groups)
    for i, row in enumerate(grid.rows):
        table.add_row(*(text_of(c) for c in row), end_section=i in ends)
    return table


def header(doc: RunDocument) -> Text:
    sc = doc.scenario
    env = doc.environment
    pkgs = env.packages
    text = Text()
    text.append(f"{sc.name}: {sc.title}\n", style="bold")
    work = f"d = {seconds(sc.scaled.work_s)} s of {sc.work.kind} work"
    if any(v.own is not None for v in sc.variants):
        work = "its own work (your apps: d from their code or measured, not scaled)"
    text.append(
        f"{describe_load(sc.load, sc.scaled)}; each request asks for {work} "
        f"(time scale {doc.time_scale:g}, client {sc.scaled.client})\n"
    )
    text.append(
        f"run {doc.run_id} ({doc.status}) · Python {env.python} · fastapi {pkgs.get('fastapi')} · "
        f"uvicorn {pkgs.get('uvicorn')} · {env.cpus_usable} CPUs",
        style="dim",
    )
    if doc.schedule:
        text.append(f"\nvariants {doc.schedule}", style="dim")
    for v in doc.variants:  # an app that ran under its own Python says which, with its versions
        i = v.interpreter
        if i is not None and i.prefix != (env.prefix or i.prefix):
            versions = " · ".join(
                f"{name} {i.packages.get(name) or '—'}" for name in ("fastapi", "uvicorn", "pydantic")
            )
            text.append(f"\n{v.name}: Python {i.python} ({i.path}) · {versions}", style="dim")
    return text


RESPONSE_COLUMNS = ("response_min_s", "response_p50_s", "response_p95_s", "response_p99_s", "response_max_s")


def response_table(variants: list[VariantResult], rates: bool = False) -> Table:
    title = "Response time (s): request sent → response received" + over_runs(variants)
    keys = ("variant", *RESPONSE_COLUMNS, "all_responded_s", *(("throughput_rps",) if rates else ()), "served_by")
    grid = figures_grid(variants).pick(*keys, response_p50_s="p50", response_p99_s="p99", response_max_s="max")
    return rich_table(grid, title)


def work_table(variants: list[VariantResult]) -> Table:
    repeated = over_runs(variants)
    title = "Work (s): first request sent → last unit of work recorded done" + (
        f"{repeated} (lost and errors: all runs)" if repeated else ""
    )
    keys = ("all_done_s", "expected", "ratio", "done_time_p50_s", "work_began_p50_s", "parallelism", "lost", "errors")
    return rich_table(figures_grid(variants).pick("variant", *keys), title)


def held_text(variants: Iterable[VariantResult]) -> Text | None:
    """What held the event loop during the run, per variant: the watchdog's places."""
    rows = held_lines(variants)
    if not rows:
        return None
    text = Text()
    text.append("What held the event loop during the load (the loop watchdog, holds over 20 ms)\n", style="bold")
    for name, lines in rows:
        for line in lines:
            text.append(f"  {name}: {line}\n", style="red")
    return text


def probes_table(variants: Iterable[VariantResult]) -> Table | None:
    """How long a trivial request waited while the load ran (probed every 50 ms)."""
    rows = [v for v in variants if v.summary is not None and v.summary.loop_lag_max_s is not None]
    if not rows:
        return None
    title = (
        "Probes during the load (s): a trivial async def request (event-loop lag) and a def "
        "request (waiting for a thread)" + over_runs(rows)
    )
    keys = ("loop_lag_p99_s", "loop_lag_max_s", "thread_wait_p99_s", "thread_wait_max_s")
    return rich_table(figures_grid(rows).pick("variant", *keys), title)


def sweep_table(variants: list[VariantResult], work_s: float | None) -> Table | None:
    groups = sweep_points(variants)
    if not groups:
        return None
    steps = sorted({n for points in groups.values() for n, _ in points})
    table = Table(
        title=Text("Sweep: req/s [theory] and p99 response (s) at each number of connections"), title_justify="left"
    )
    table.add_column("variant", style="bold", min_width=max(len(name) for name in groups))
    for n in steps:
        table.add_column(str(n), justify="right")
    for name, points in groups.items():
        by_step = dict(points)
        cells = []
        for n in steps:
            v = by_step.get(n)
            if v is None or v.summary is None:
                cells.append("")
                continue
            theory = sweep_theory(v, n, work_s)
            rate = "—" if v.summary.throughput_rps is None else f"{mean_of(v, 'throughput_rps') or 0:,.0f}"
            cells.append(f"{rate} [{'—' if theory is None else f'{theory:,.0f}'}]\n{figure(v, 'response_p99_s')}")
        table.add_row(name, *cells)
    return table


def runs_table(variants: list[VariantResult]) -> Table | None:
    """Repeated runs: each main figure as mean ± σ and min … max, and each run's value."""
    grid = runs_grid(variants)
    return None if grid is None else rich_table(grid)


class Fit:
    """A wide table where the terminal has room for it, else the same figures laid out narrow
    (rich would otherwise squeeze every column to a few letters)."""

    def __init__(self, wide: Table, narrow: Table) -> None:
        self.wide, self.narrow = wide, narrow

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        needed = Measurement.get(console, options.update(width=10_000), self.wide).maximum
        yield self.wide if needed <= options.max_width else self.narrow


def tabs_table(variants: list[VariantResult]) -> Fit:
    """The four-tabs story: for each tab, when it was answered and when its work was done; a
    column per tab where the terminal is wide enough, else a row per tab."""
    ran = [v for v in variants if v.summary is not None]
    clients = max((len(v.requests) for v in ran), default=0)
    title = "Per tab, seconds from the first request: answered / done  [theory: done]" + (
        "; each variant's median run" if any(len(v.runs) > 1 for v in ran) else ""
    )
    table = Table(title=Text(title), title_justify="left")
    narrow = Table(title=Text(title), title_justify="left")
    longest = max((len(v.name) for v in ran), default=0)
    table.add_column("variant", style="bold", min_width=longest)
    for name in ("variant", "tab", "sent", "answered", "done", "theory: done"):
        narrow.add_column(
            name, justify="left" if name == "variant" else "right", style="bold" if name == "variant" else ""
        )
    for i in range(clients):
        sent = next((v.requests[i].sent_s for v in ran if i < len(v.requests)), None)
        table.add_column(f"tab {i + 1} (sent {seconds(sent, 2)})", justify="right")
    for v in ran:
        cells = []
        for i, r in enumerate(v.requests):
            theory = v.expected.done_s[i] if v.expected and i < len(v.expected.done_s) else None
            answered = r.error or seconds(r.responded_s, 2)
            cells.append(f"{answered} / {seconds(r.done_s, 2)}  [{seconds(theory, 2)}]")
            narrow.add_row(
                v.name if i == 0 else "",
                str(i + 1),
                seconds(r.sent_s, 2),
                answered,
                seconds(r.done_s, 2),
                seconds(theory, 2),
                end_section=i == len(v.requests) - 1,
            )
        table.add_row(v.name, *cells)
    return Fit(table, narrow)


def timeline(variants: list[VariantResult], width: int = 48) -> Group:
    """One row per request: ━ waiting for the answer, ╌ work still running after it, ● done."""
    ran = [v for v in variants if v.summary is not None and v.requests]
    end = max((r.done_s or r.responded_s or 0.0 for v in ran for r in v.requests), default=0.0) or 1.0
    legend = Text(f"Timeline, 0 → {end:.2f} s", style="italic")
    legend.append("   ━ waiting for the answer", style="cyan")
    legend.append("   ╌ work running after it", style="yellow")
    legend.append("   ● work done", style="green")
    legend.append("   ✗ failed", style="red")
    legend.append("   ◇ theory", style="magenta")
    table = Table(box=None, padding=(0, 1))
    table.add_column("variant", min_width=max(14, *(len(v.name) for v in ran)) if ran else 14)
    table.add_column("pid", style="dim")
    table.add_column("tab", justify="right")
    table.add_column("", min_width=width + 1)
    for v in ran:
        for r in v.requests:
            table.add_row(
                v.name if r.client == 1 else "",
                "" if r.pid is None else str(r.pid),
                str(r.client),
                _bar(r.sent_s, r.responded_s, r.done_s, r.error is not None, end, width, theory_done(v, r.client)),
            )
    return Group(legend, table)


def _bar(
    sent: float,
    responded: float | None,
    done: float | None,
    failed: bool,
    end: float,
    width: int,
    theory: float | None = None,
) -> Text:
    def col(t: float) -> int:
        return min(width - 1, max(0, round(t / end * (width - 1))))

    cells: list[tuple[str, str]] = [(" ", "")] * col(sent)
    answer_at = col(responded) if responded is not None else col(done or end)
    cells += [("━", "cyan")] * max(1, answer_at - col(sent))
    if failed:
        cells.append(("✗", "red bold"))
    else:
        if done is not None and responded is not None and col(done) > answer_at:
            cells += [("╌", "yellow")] * (col(done) - answer_at - 1)
        cells.append(("●", "green") if done is not None else ("?", "red"))
    # where the model says it is done, when that is visibly apart from ● (one column is rounding)
    if theory is not None and (done is None or abs(col(theory) - col(done)) > 1):
        at = col(theory)
        cells += [(" ", "")] * max(0, at + 1 - len(cells))
        if cells[at][0] != "●":
            cells[at] = ("◇", "magenta")
    bar = Text()
    for char, style in cells:
        bar.append(char, style=style)
    return bar


def claims_table(claims: list[ClaimResult]) -> Table:
    grid = claims_grid(claims).fold("claim: what it says · why it should hold · what happened", CLAIM_PROSE)
    table = rich_table(grid.pick("mark", "id", "measured", "expected"), "The claims, checked", show_lines=True)
    table.columns[0].width = 1
    table.columns[1].ratio = 1
    return table


def theory_notes(variants: Iterable[VariantResult]) -> Table:
    grid = capacity_grid(variants)
    return rich_table(grid.pick(*(c.key for c in grid.columns), theory="model"), box=None, padding=(0, 2))


def failures(variants: Iterable[VariantResult]) -> list[RenderableType]:
    out: list[RenderableType] = []
    for v in variants:
        if v.status == "failed":
            how = "did not run" if v.summary is None else "failed during the run"
            out.append(Text(f"✗ {v.name} {how}: {v.error}", style="red"))
    return out


def happenings(variants: Iterable[VariantResult]) -> list[RenderableType]:
    """What the harness did besides the load, and what it saw: brokers, disruptions, notes."""
    lines = Text()
    for v in variants:
        for what in (
            ([f"broker: {v.broker}"] if v.broker else [])
            + ([f"disruption: {v.disruption}"] if v.disruption else [])
            + v.notes
        ):
            lines.append(f"{v.name}: ", style="bold")
            lines.append(what + "\n")
    return [lines] if lines.plain else []


def diagnoses(variants: Iterable[VariantResult]) -> Group | None:
    rows = [(v.name, diagnosis_lines(v)) for v in variants if v.diagnosis is not None]
    if not rows:
        return None
    text = Text()
    text.append("Diagnosis of your app: blocking calls seen on the event loop (bench check)\n", style="bold")
    for name, lines in rows:
        text.append(f"  {name}\n", style="bold")
        for line, blocks in lines:
            text.append(f"    {line}\n", style="red" if blocks else "")
    return Group(text)


def build_run(doc: RunDocument) -> Group:
    parts: list[RenderableType] = [header(doc)]
    found = diagnoses(doc.variants)
    if found is not None:
        parts.append(found)
    if any(v.summary is not None for v in doc.variants):
        burst = doc.scenario.load.pattern == "burst"
        parts += [response_table(doc.variants, rates=not burst), work_table(doc.variants)]
        probes = probes_table(doc.variants)
        if probes is not None:
            parts.append(probes)
        loop_held = held_text(doc.variants)
        if loop_held is not None:
            parts.append(loop_held)
        repeated = runs_table(doc.variants)
        if repeated is not None:
            parts.append(repeated)
        sweep = sweep_table(doc.variants, doc.scenario.scaled.work_s)
        if sweep is not None:
            parts.append(sweep)
        if max(len(v.requests) for v in doc.variants) <= MAX_TABS_SHOWN:
            parts += [tabs_table(doc.variants), timeline(doc.variants)]
    claims = doc.claims()
    if claims:
        held = sum(c.holds for c in claims)
        parts.append(claims_table(claims))
        parts.append(Text(f"{held} of {len(claims)} claims hold in this run.", style="bold"))
    if doc.warnings:
        parts.append(Text("\n".join(f"⚠ {w}" for w in doc.warnings), style="yellow"))
    parts += happenings(doc.variants)
    parts += failures(doc.variants)
    if doc.variants:
        parts.append(theory_notes(doc.variants))
    if doc.status == "interrupted":
        parts.append(Text("The run was interrupted: the variants above are the ones that finished.", style="yellow"))
    return Group(*(Padding(p, (1, 0, 0, 0), expand=False) for p in parts))
