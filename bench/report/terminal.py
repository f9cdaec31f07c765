"""Rich renderables built from a run document; printing is the caller's business.

``build_run(doc)`` returns one renderable with every table; tests render it to a string
with ``Console(file=io.StringIO(), width=...)``. The figures shown here are exactly the
ones saved in the document, so ``bench show`` re-renders a run faithfully.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from bench.model.document import ClaimResult, LocustLoad, RunDocument, Scaled, Summary, VariantResult, run_name
from bench.model.metrics import pid_split
from bench.model.ownapp import Diagnosis, Prediction, Strategy, blocking_sentences, endpoint_text
from bench.model.scenario import Load

MAX_TABS_SHOWN = 8  # beyond this, per-tab tables and timelines stop being readable


def seconds(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def figure(v: VariantResult, key: str, digits: int = 3) -> str:
    """A figure of ``v`` as shown: its value, or mean ± σ over the runs when the variant ran repeatedly."""
    st = v.stats.get(key) if len(v.runs) > 1 else None
    if st is not None:
        return f"{st.mean:.{digits}f}±{st.stdev:.{digits}f}"
    return seconds(getattr(v.summary, key, None), digits)


def over_runs(variants: Iterable[VariantResult]) -> str:
    """What a table's title adds when its figures are means over repeated runs."""
    n = max((len(v.runs) for v in variants), default=0)
    return f"; mean±σ over {n} runs" if n > 1 else ""


def mean_of(v: VariantResult, key: str) -> float | None:
    """The figure's mean over the runs, or its one value."""
    st = v.stats.get(key)
    return st.mean if st is not None else getattr(v.summary, key, None)


def ratio(measured: float | None, expected: float | None) -> str:
    if measured is None or not expected:
        return "—"
    return f"{measured / expected:.2f}×"


def _bound(duration_s: float | None, total: int | None) -> str:
    parts = [f"{seconds(duration_s, 2)} s" if duration_s else "", f"{total} requests" if total else ""]
    return " or ".join(p for p in parts if p)


def _plural(n: int | None, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def describe_load(load: Load | LocustLoad, scaled: Scaled) -> str:
    """The load of a run in words, at the scale it ran."""
    if isinstance(load, LocustLoad):
        if load.mode == "web UI":
            how = "web UI, users chosen there"
        else:
            how = f"headless, {load.users} users spawned at {load.spawn_rate}/s for {load.run_time} s"
        workers = f", {load.processes} local workers" if load.processes else ""
        pacing = f", one request per user every {load.pace:g} s" if load.pace else ", users never wait"
        return f"Locust ({how}{pacing}{workers})"
    if load.pattern == "closed":
        return f"closed loop: {_plural(load.clients, 'connection')} for {_bound(scaled.duration_s, load.total)}"
    if load.pattern == "open":
        rate = f"{scaled.rate:g}" if scaled.rate is not None else "?"
        return f"open loop: {rate} requests/s for {_bound(scaled.duration_s, load.total)}"
    who = "tabs" if scaled.client == "browser" else "clients"
    if not scaled.gap_s:
        return f"{load.clients} {who} at the same instant"
    return f"{load.clients} {who}, {seconds(scaled.gap_s)} s apart"


def header(doc: RunDocument) -> Text:
    sc = doc.scenario
    env = doc.environment
    pkgs = env.packages
    text = Text()
    text.append(f"{sc.name}: {sc.title}\n", style="bold")
    work = f"d = {seconds(sc.scaled.work_s)} s of {sc.work.kind} work"
    if any(v.own is not None for v in sc.variants):
        work = "its own work (your apps: d measured, not scaled)"
    text.append(
        f"{describe_load(sc.load, sc.scaled)}; each request asks for {work} "
        f"(time scale {doc.time_scale:g}, client {sc.scaled.client})\n"
    )
    text.append(
        f"run {doc.run_id} ({doc.status}) · Python {env.python} · fastapi {pkgs.get('fastapi')} · "
        f"uvicorn {pkgs.get('uvicorn')} · {env.cpus_usable} CPUs",
        style="dim",
    )
    return text


def response_table(variants: list[VariantResult], rates: bool = False) -> Table:
    title = "Response time (s): request sent → response received" + over_runs(variants)
    table = Table(title=title, title_justify="left")
    table.add_column("variant", style="bold")
    for name in ("min", "p50", "p95", "p99", "max", "all responded"):
        table.add_column(name, justify="right")
    if rates:
        table.add_column("req/s", justify="right")
    table.add_column("served by")
    for v in variants:
        s = v.summary
        if s is None:
            table.add_row(v.name, *["—"] * (7 if rates else 6), Text("failed to run", style="red"))
            continue
        keys = ("response_min_s", "response_p50_s", "response_p95_s", "response_p99_s", "response_max_s")
        cells = [figure(v, k) for k in (*keys, "all_responded_s")]
        if rates:
            cells.append(figure(v, "throughput_rps", 1))
        table.add_row(v.name, *cells, served_by(v))
    return table


def served_by(v: VariantResult) -> str:
    if v.summary is None or not v.summary.pids:
        return "—"
    if v.capacity.workers == 1:
        return f"pid {next(iter(v.summary.pids))}"
    return pid_split(v.summary.pids, v.capacity.workers)


def work_table(variants: list[VariantResult]) -> Table:
    repeated = over_runs(variants)
    title = "Work (s): first request sent → last unit of work recorded done" + (
        f"{repeated} (lost and errors: all runs)" if repeated else ""
    )
    table = Table(title=title, title_justify="left")
    table.add_column("variant", style="bold")
    table.add_column("all done", justify="right")
    table.add_column("expected", justify="right")
    table.add_column("measured / expected", justify="right")
    table.add_column("done time p50", justify="right")
    table.add_column("work began p50", justify="right")
    table.add_column("parallelism", justify="right")
    table.add_column("lost", justify="right")
    table.add_column("errors", justify="right")
    for v in variants:
        s, e = v.summary, v.expected
        if s is None:
            table.add_row(v.name, *["—"] * 8)
            continue
        table.add_row(
            v.name,
            figure(v, "all_done_s"),
            seconds(e.all_done_s if e else None),
            ratio(mean_of(v, "all_done_s"), e.all_done_s if e else None),
            figure(v, "done_time_p50_s"),
            figure(v, "work_began_p50_s"),
            figure(v, "parallelism", 2),
            _count(s.lost) if len(v.runs) < 2 else _count(sum(r.lost for r in v.runs)),
            _count(s.errors, _kinds(s)) if len(v.runs) < 2 else _count(sum(r.errors for r in v.runs)),
        )
    return table


def _count(n: int, detail: str = "") -> Text:
    return Text(f"{n}{detail}", style="red bold" if n else "")


def _kinds(s: Summary) -> str:
    return f" ({', '.join(f'{k}: {n}' for k, n in s.errors_by_kind.items())})" if s.errors_by_kind else ""


def probes_table(variants: Iterable[VariantResult]) -> Table | None:
    """How long a trivial request waited while the load ran (probed every 50 ms)."""
    rows = [v for v in variants if v.summary is not None and v.summary.loop_lag_max_s is not None]
    if not rows:
        return None
    table = Table(
        title="Probes during the load (s): a trivial async def request (event-loop lag) and a def "
        "request (waiting for a thread)" + over_runs(rows),
        title_justify="left",
    )
    table.add_column("variant", style="bold")
    for name in ("loop lag p99", "loop lag max", "thread wait p99", "thread wait max"):
        table.add_column(name, justify="right")
    for v in rows:
        s = v.summary
        assert s is not None
        table.add_row(
            v.name,
            figure(v, "loop_lag_p99_s"),
            figure(v, "loop_lag_max_s"),
            figure(v, "thread_wait_p99_s"),
            figure(v, "thread_wait_max_s"),
        )
    return table


def sweep_points(variants: Iterable[VariantResult]) -> dict[str, list[tuple[int, VariantResult]]]:
    """The results of a sweep, by variant: [(connections, result), ...] in step order."""
    groups: dict[str, list[tuple[int, VariantResult]]] = {}
    for v in variants:
        if v.step is not None and v.summary is not None:
            groups.setdefault(run_name(v.variant, v.same_url), []).append((v.step, v))
    return groups


def sweep_theory(v: VariantResult, connections: int, work_s: float | None) -> float | None:
    """Closed loop, answers after the work: req/s = min(connections, slots) / d. None when
    the answer does not wait for the work (then the server's own speed is the limit)."""
    slots = v.capacity.work_slots_per_worker
    if not work_s or v.capacity.answers != "after-work":
        return None
    in_flight = connections if slots is None else min(connections, slots * v.capacity.workers)
    return in_flight / work_s


def sweep_table(variants: list[VariantResult], work_s: float | None) -> Table | None:
    groups = sweep_points(variants)
    if not groups:
        return None
    steps = sorted({n for points in groups.values() for n, _ in points})
    table = Table(
        title=Text("Sweep: req/s [theory] and p99 response (s) at each number of connections"), title_justify="left"
    )
    table.add_column("variant", style="bold")
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


def split_counts(pids: dict[str, int], workers: int) -> str:
    """'3 + 1 + 0 + 0': requests per worker process, busiest first, idle workers as 0."""
    counts = sorted(pids.values(), reverse=True)
    counts += [0] * max(0, workers - len(counts))
    return " + ".join(map(str, counts))


# The figures of the runs table (bench run --runs N), as named in the summary.
RUN_FIGURES = (
    ("all responded", "all_responded_s"),
    ("all done", "all_done_s"),
    ("response p50", "response_p50_s"),
    ("response p99", "response_p99_s"),
    ("req/s", "throughput_rps"),
    ("loop lag max", "loop_lag_max_s"),
)


def over_the_runs(v: VariantResult) -> list[tuple[str, str, str, str]]:
    """The rows of the runs table of one variant: (figure, mean ± σ, min … max, each run's value);
    the split over worker processes, run by run, where there are several."""
    lines = []
    for label, key in RUN_FIGURES:
        st = v.stats.get(key)
        if st is None:
            continue
        digits = 1 if key == "throughput_rps" else 3
        lines.append(
            (
                label,
                f"{st.mean:.{digits}f} ± {st.stdev:.{digits}f}",
                f"{st.min:.{digits}f} … {st.max:.{digits}f}",
                "  ".join(seconds(getattr(r, key), digits) for r in v.runs),
            )
        )
    if v.capacity.workers > 1:
        lines.append(
            ("split over processes", "", "", "   ".join(split_counts(r.pids, v.capacity.workers) for r in v.runs))
        )
    return lines


def runs_table(variants: list[VariantResult]) -> Table | None:
    """Repeated runs: each main figure as mean ± σ and min … max, and each run's value."""
    rows = [v for v in variants if len(v.runs) > 1]
    if not rows:
        return None
    n = max(len(v.runs) for v in rows)
    warm = max(v.warmups for v in rows)
    title = f"Over the runs: mean ± σ, min … max, and each run ({n} runs" + (f" after {warm} warm-up)" if warm else ")")
    table = Table(title=title, title_justify="left")
    table.add_column("variant", style="bold")
    table.add_column("figure")
    table.add_column("mean ± σ", justify="right")
    table.add_column("min … max", justify="right")
    table.add_column("each run", overflow="fold")
    for v in rows:
        lines = over_the_runs(v)
        for i, (label, spread, span, each) in enumerate(lines):
            table.add_row(v.name if i == 0 else "", label, spread, span, each, end_section=i == len(lines) - 1)
    return table


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
    table.add_column("variant", style="bold")
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
    table.add_column("variant", min_width=14)
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


def theory_done(v: VariantResult, client: int) -> float | None:
    """When theory says the work of tab ``client`` (1-based) is done, if it says."""
    e = v.expected
    return e.done_s[client - 1] if e is not None and 0 < client <= len(e.done_s) else None


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
    table = Table(title="The claims, checked", title_justify="left", show_lines=True)
    table.add_column("", width=1)
    table.add_column("claim: what it says · why it should hold · what happened", ratio=1)
    table.add_column("measured", justify="right")
    table.add_column("expected", justify="right")
    for c in claims:
        mark = Text("✓", style="green bold") if c.holds else Text("✗", style="red bold")
        text = Text()
        text.append(f"{c.id} ({c.variant}) ", style="bold")
        text.append(c.says)
        text.append("\n" + c.why, style="dim")
        if c.note:
            text.append("\n" + c.note, style="yellow")
        if c.runs:
            text.append(f"\nchecked on the mean of {c.runs} runs; held in {c.held_runs} of them alone", style="dim")
        table.add_row(mark, text, c.measured_text, c.expected_text)
    return table


def theory_notes(variants: Iterable[VariantResult]) -> Table:
    table = Table(title="Capacity, and the theory behind 'expected'", title_justify="left", box=None, padding=(0, 2))
    table.add_column("variant", style="bold")
    table.add_column("strategy")
    table.add_column("capacity")
    table.add_column("model")
    for v in variants:
        table.add_row(v.name, v.title, describe_capacity(v), v.expected.model if v.expected else "—")
    return table


def describe_capacity(v: VariantResult) -> str:
    """What each variant was given, so that unequal budgets are visible beside the figures."""
    c = v.capacity
    parts = [f"{c.workers} web worker{'s' if c.workers > 1 else ''}", f"{c.thread_limit} threads each"]
    if c.celery_concurrency is not None:
        parts.append(f"Celery {c.celery_concurrency} × {c.celery_pool}, prefetch {c.celery_prefetch}")
    return ", ".join(parts)


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


def diagnosis_lines(v: VariantResult) -> list[tuple[str, bool]]:
    """An own app's diagnosis in words: each blocking call with its file:line (and whether it
    blocks the event loop), the strategy, d."""
    if v.diagnosis is None:
        return []
    lines = blocking_sentences(v.endpoint or "the endpoint", v.diagnosis) or [("no blocking call was seen", False)]
    if not any(c.blocks_loop for c in v.diagnosis):
        lines.insert(0, ("nothing blocks the event loop", False))
    lines.append((f"inferred: {v.strategy}", False))
    if v.work_s is not None:
        lines.append((f"d measured with one request alone: {v.work_s:.3f} s", False))
    return lines


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


def build_check(diagnosis: Diagnosis, strategy: Strategy, rows: list[Prediction], clients: int, gap_s: float) -> Group:
    """``bench check``: the blocking calls with file:line, and four tabs predicted for this app and each fix."""
    text = Text()
    text.append(f"{diagnosis.app}: GET {diagnosis.path}\n", style="bold")
    sentences = blocking_sentences(endpoint_text(diagnosis), diagnosis.calls)
    if not any(c.blocks_loop for c in diagnosis.calls):
        text.append("nothing blocks the event loop\n", style="green")
    for line, blocks in sentences:
        text.append(f"{line}\n", style="red" if blocks else "")
    if diagnosis.problem:
        text.append(f"{diagnosis.problem}\n", style="yellow")
    text.append(f"inferred: {strategy.why}\n")
    d = strategy.seconds_written
    unit = f"d = {d:g} s, the work's duration as the code writes it" if d else "in units of d, the work's duration"
    table = Table(title=f"{clients} tabs {gap_s:g} s apart, predicted ({unit})", title_justify="left")
    table.add_column("strategy")
    table.add_column("all answered", justify="right")
    table.add_column("all done", justify="right")
    suffix = "s" if d else "d"
    for r in rows:
        table.add_row(r.label, f"{r.all_responded_s:.2f} {suffix}", f"{r.all_done_s:.2f} {suffix}")
    return Group(text, table)


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
