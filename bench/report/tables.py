"""Every table of a run, built once as cells and rows; the terminal, the HTML page and the
Markdown export only typeset them (hyperfine's ``export/markup.rs`` shape).

A ``Grid`` is a title, named columns and rows of ``Cell``s; a cell is a few ``Span``s of
text with a tone ("bad", "dim", ...), never a colour or a tag. Each format picks the
columns it shows (``Grid.pick``), and may fold several into one (``Grid.fold``), so
the claims table reads as one column of prose in a terminal and as separate columns in
Markdown from the same cells. The words shared by every format (a load described, a
capacity, a figure as "mean±σ") live here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from bench.model import theory
from bench.model.document import ClaimResult, VariantResult, run_name
from bench.model.load import LoadFigures
from bench.report.words import describe_capacity, figure, mean_of, ratio, seconds, served_by

Tone = Literal["", "strong", "dim", "good", "bad", "warn"]


@dataclass(frozen=True)
class Span:
    text: str
    tone: Tone = ""


@dataclass(frozen=True)
class Cell:
    spans: tuple[Span, ...] = ()

    @classmethod
    def of(cls, text: str, tone: Tone = "") -> Cell:
        return cls((Span(text, tone),)) if text else cls()

    @property
    def plain(self) -> str:
        return "".join(s.text for s in self.spans)


EMPTY = Cell()


@dataclass(frozen=True)
class Column:
    key: str  # what a format picks it by
    title: str  # what its heading says
    numeric: bool = True  # right-aligned; text columns are left-aligned


@dataclass(frozen=True)
class Grid:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    groups: tuple[int, ...] = field(default=())  # the rows that end a group (a variant's rows)

    def pick(self, *keys: str, **titles: str) -> Grid:
        """The same rows with only these columns, in that order; ``titles`` renames headings by key."""
        at = [self.index(k) for k in keys]
        columns = tuple(
            replace(self.columns[i], title=titles.get(self.columns[i].key, self.columns[i].title)) for i in at
        )
        return replace(self, columns=columns, rows=tuple(tuple(r[i] for i in at) for r in self.rows))

    def fold(self, title: str, parts: Sequence[tuple[str, str]]) -> Grid:
        """Several columns as one headed ``title`` at the first's place: each (column, text before it)
        part of a row is added when that cell is not empty."""
        at = [self.index(p) for p, _ in parts]
        rows = []
        for row in self.rows:
            spans: list[Span] = []
            for i, (_, before) in zip(at, parts, strict=True):
                if row[i].spans:
                    spans += [Span(before)] if before and spans else []
                    spans += row[i].spans
            rows.append(tuple(Cell(tuple(spans)) if i == at[0] else c for i, c in enumerate(row) if i not in at[1:]))
        first = self.columns[at[0]]
        columns = tuple(
            Column(first.key, title, numeric=False) if i == at[0] else c
            for i, c in enumerate(self.columns)
            if i not in at[1:]
        )
        return replace(self, columns=columns, rows=tuple(rows))

    def index(self, key: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.key == key)


@dataclass(frozen=True)
class Figure:
    """A figure of a run's summary as every table and ``bench compare`` name it."""

    key: str
    label: str
    digits: int = 3
    unit: str = "s"
    slower: int = 1  # +1: a larger value is slower; -1: a smaller one is (a rate); 0: neither


FIGURES = {
    f.key: f
    for f in (
        Figure("response_min_s", "min"),
        Figure("response_p50_s", "response p50"),
        Figure("response_p95_s", "p95"),
        Figure("response_p99_s", "response p99"),
        Figure("response_max_s", "response max"),
        Figure("all_responded_s", "all responded"),
        Figure("throughput_rps", "req/s", 1, "req/s", -1),
        Figure("all_done_s", "all done"),
        Figure("done_time_p50_s", "done time p50"),
        Figure("work_began_p50_s", "work began p50"),
        Figure("parallelism", "parallelism", 2, "", 0),
        Figure("loop_lag_p99_s", "loop lag p99"),
        Figure("loop_lag_max_s", "loop lag max"),
        Figure("thread_wait_p99_s", "thread wait p99"),
        Figure("thread_wait_max_s", "thread wait max"),
        Figure("lost", "lost", 0, "n"),
        Figure("errors", "errors", 0, "n"),
    )
}
SUMMARY_FIGURES = tuple(k for k in FIGURES if k not in ("lost", "errors"))


def _count(n: int, detail: str = "") -> Cell:
    return Cell.of(f"{n}{detail}", "bad" if n else "")


def figures_grid(variants: Sequence[VariantResult]) -> Grid:
    """Every figure of every variant, one row each: what the response, work, probes and figures
    tables show columns of. Means ± σ where a variant ran repeatedly; lost and errors over all runs."""
    columns = (
        Column("variant", "variant", numeric=False),
        *(Column(k, FIGURES[k].label) for k in SUMMARY_FIGURES),
        Column("expected", "expected"),
        Column("ratio", "measured / expected"),
        Column("lost", "lost"),
        Column("errors", "errors"),
        Column("served_by", "served by", numeric=False),
    )
    rows = []
    for v in variants:
        s, e = v.summary, v.expected
        name = Cell.of(v.name, "strong")
        if s is None:
            failed = Cell.of("failed to run", "bad") if v.status == "failed" else Cell.of("—")
            rows.append((name, *[Cell.of("—")] * (len(columns) - 2), failed))
            continue
        cells = [Cell.of(figure(v, k, FIGURES[k].digits)) for k in SUMMARY_FIGURES]
        expected = e.all_done_s if e else None
        repeated = len(v.runs) > 1
        kinds = f" ({', '.join(f'{k}: {n}' for k, n in s.errors_by_kind.items())})" if s.errors_by_kind else ""
        rows.append(
            (
                name,
                *cells,
                Cell.of(seconds(expected)),
                Cell.of(ratio(mean_of(v, "all_done_s"), expected)),
                _count(sum(r.lost for r in v.runs) if repeated else s.lost),
                _count(sum(r.errors for r in v.runs)) if repeated else _count(s.errors, kinds),
                Cell.of(served_by(v)),
            )
        )
    return Grid("", columns, tuple(rows))


def claims_grid(claims: Sequence[ClaimResult]) -> Grid:
    """The claims, checked: one row each, its words in columns a format may fold into one."""
    names = ("mark", "id", "variant", "says", "why", "note", "runs", "measured", "expected")
    columns = tuple(Column(n, "" if n == "mark" else n, numeric=n in ("measured", "expected")) for n in names)
    rows = []
    for c in claims:
        mark = Cell.of("✓", "good") if c.holds else Cell.of("✗", "bad")
        runs = f"checked on the mean of {c.runs} runs; held in {c.held_runs} of them alone" if c.runs else ""
        rows.append(
            (
                mark,
                Cell.of(c.id, "strong"),
                Cell.of(c.variant, "strong"),
                Cell.of(c.says),
                Cell.of(c.why, "dim"),
                Cell.of(c.note or "", "warn"),
                Cell.of(runs, "dim"),
                Cell.of(c.measured_text),
                Cell.of(c.expected_text),
            )
        )
    held = sum(c.holds for c in claims)
    return Grid(f"The claims, checked: {held} of {len(claims)} hold", columns, tuple(rows))


CLAIM_PROSE = (("id", ""), ("variant", " ("), ("says", ") "), ("why", "\n"), ("note", "\n"), ("runs", "\n"))
"""How the terminal and the HTML page fold a claim's words into one cell: "2 (multi-worker) says\\nwhy"."""


def capacity_grid(variants: Iterable[VariantResult]) -> Grid:
    """What each variant was given and the theory behind its 'expected'."""
    columns = tuple(Column(n, n, numeric=False) for n in ("variant", "strategy", "capacity", "theory"))
    rows = tuple(
        (
            Cell.of(v.name, "strong"),
            Cell.of(v.title),
            Cell.of(describe_capacity(v)),
            Cell.of(v.expected.model if v.expected else "—"),
        )
        for v in variants
    )
    return Grid("Capacity, and the theory behind 'expected'", columns, rows)


RUN_FIGURES = ("all_responded_s", "all_done_s", "response_p50_s", "response_p99_s", "throughput_rps", "loop_lag_max_s")
"""The figures of the runs table (``bench run --runs N``)."""


def split_counts(pids: dict[str, int], workers: int) -> str:
    """'3 + 1 + 0 + 0': requests per worker process, busiest first, idle workers as 0."""
    counts = sorted(pids.values(), reverse=True)
    counts += [0] * max(0, workers - len(counts))
    return " + ".join(map(str, counts))


def runs_grid(variants: Sequence[VariantResult]) -> Grid | None:
    """Repeated runs: each main figure as mean ± σ and min … max, and each run's value; the split
    over worker processes, run by run, where there are several. None when nothing ran twice."""
    repeated = [v for v in variants if len(v.runs) > 1]
    if not repeated:
        return None
    columns = (
        Column("variant", "variant", numeric=False),
        Column("figure", "figure", numeric=False),
        Column("mean", "mean ± σ"),
        Column("span", "min … max"),
        Column("each", "each run", numeric=False),
    )
    rows: list[tuple[Cell, ...]] = []
    ends: list[int] = []
    for v in repeated:
        first = len(rows)
        for key in RUN_FIGURES:
            st = v.stats.get(key)
            if st is None:
                continue
            d = FIGURES[key].digits
            rows.append(
                (
                    Cell.of(v.name if len(rows) == first else "", "strong"),
                    Cell.of(FIGURES[key].label),
                    Cell.of(f"{st.mean:.{d}f} ± {st.stdev:.{d}f}"),
                    Cell.of(f"{st.min:.{d}f} … {st.max:.{d}f}"),
                    Cell.of("  ".join(seconds(getattr(r, key), d) for r in v.runs)),
                )
            )
        if v.capacity.workers > 1:
            each = "   ".join(split_counts(r.pids, v.capacity.workers) for r in v.runs)
            name = Cell.of(v.name if len(rows) == first else "", "strong")
            rows.append((name, Cell.of("split over processes"), EMPTY, EMPTY, Cell.of(each)))
        ends.append(len(rows) - 1)
    n = max(len(v.runs) for v in repeated)
    warm = max(v.warmups for v in repeated)
    title = f"Over the runs: mean ± σ, min … max, and each run ({n} runs" + (f" after {warm} warm-up)" if warm else ")")
    return Grid(title, columns, tuple(rows), tuple(ends))


def sweep_points(variants: Iterable[VariantResult]) -> dict[str, list[tuple[int, VariantResult]]]:
    """The results of a sweep, by variant: [(connections, result), ...] in step order."""
    groups: dict[str, list[tuple[int, VariantResult]]] = {}
    for v in variants:
        if v.step is not None and v.summary is not None:
            groups.setdefault(run_name(v.variant, v.same_url), []).append((v.step, v))
    return groups


def sweep_theory(v: VariantResult, connections: int, work_s: float | None) -> float | None:
    """The theory's req/s of a sweep step (``bench.model.theory.closed_loop_rate``)."""
    c = v.capacity
    return theory.closed_loop_rate(connections, c.work_slots_per_worker, c.workers, work_s, c.answers)


COMPARED_RUN_FIGURES = (
    "all_responded_s",
    "all_done_s",
    "response_p50_s",
    "response_p99_s",
    "response_max_s",
    "throughput_rps",
    "parallelism",
    "lost",
    "errors",
)
"""The figures of a ``bench run`` that ``bench compare`` judges."""

# A saved load's figures: the latency percentiles (ms) of LoadFigures.latency, then the rest.
LATENCY = (
    ("min_ms", "min"),
    ("p50_ms", "p50"),
    ("p90_ms", "p90"),
    ("p99_ms", "p99"),
    ("p99_9_ms", "p99.9"),
    ("max_ms", "max"),
    ("mean_ms", "mean"),
    ("stdev_ms", "stdev"),
)
LOAD_FIGURES = (
    Figure("requests_per_s", "req/s", 1, "req/s", -1),
    *(Figure(k, f"latency {label}", 3, "ms") for k, label in LATENCY if k not in ("min_ms", "mean_ms", "stdev_ms")),
    Figure("errors", "errors", 0, "n"),
)
"""The figures of a ``bench load`` that ``bench compare`` judges."""


def milliseconds(v: float) -> str:
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def latency_grid(f: LoadFigures) -> Grid:
    """A load's latency percentiles (ms), and the client's own queue for an open loop."""
    columns = (Column("what", "", numeric=False), *(Column(k, label) for k, label in LATENCY))
    rows = tuple(
        (Cell.of(name), *(Cell.of(milliseconds(getattr(lat, k))) for k, _ in LATENCY))
        for name, lat in (("latency", f.latency), ("client queue", f.client_queue))
        if lat is not None
    )
    return Grid(f"ms ({f.precision})", columns, rows)
