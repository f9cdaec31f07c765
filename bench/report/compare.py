"""``bench compare``: two or more runs figure by figure, each against the first, noise told apart.

A figure "changed" only when the difference is both real and large enough to matter:

- runs repeated on both sides (``bench run --runs N``): Welch's t-test on the runs' values
  (two-sided, unequal variances) gives p < ``ALPHA``, and the means differ by more than the
  noise floor;
- a single run on either side: the values differ by more than the noise floor
  (``bench.model.repeats.NOISE_FLOOR``), the run-to-run spread measured on this machine.

Otherwise "no change". Works for scenario runs (``bench run``) and saved loads (``bench load``);
a figure that got slower beyond noise carries how much slower, for ``--fail-if-slower``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bench.model.document import Document, LoadDocument, RunDocument, VariantResult
from bench.model.repeats import NOISE_FLOOR
from bench.model.welch import welch_p
from bench.report.tables import COMPARED_RUN_FIGURES, FIGURES
from bench.report.tables import LOAD_FIGURES as LOADED

ALPHA = 0.05
NO_CHANGE, CHANGED = "no change", "changed"

# (label, key, unit, direction): direction +1 when a larger value is slower, -1 when a smaller
# one is (a rate), 0 when neither (parallelism). The figures are those the tables name.
RUN_FIGURES = tuple((FIGURES[k].label, k, FIGURES[k].unit, FIGURES[k].slower) for k in COMPARED_RUN_FIGURES)
LOAD_FIGURES = tuple((f.label, f.key, f.unit, f.slower) for f in LOADED)


@dataclass(frozen=True)
class Side:
    mean: float
    stdev: float
    n: int


@dataclass(frozen=True)
class Row:
    variant: str
    figure: str
    unit: str
    base: Side
    other: Side
    ratio: float | None  # other / base
    p_value: float | None  # Welch's t-test, when both sides were repeated
    verdict: str
    slower_pct: float | None  # how much slower, when the change is a slowdown beyond noise


@dataclass(frozen=True)
class Comparison:
    run: str
    rows: list[Row]
    notes: list[str]


def figures_of(doc: Document) -> dict[str, dict[str, tuple[str, str, int, list[float]]]]:
    """variant -> figure key -> (label, unit, direction, each run's value)."""
    out: dict[str, dict[str, tuple[str, str, int, list[float]]]] = {}
    if isinstance(doc, LoadDocument):
        f = doc.figures
        got: dict[str, float | None] = {
            "requests_per_s": f.requests_per_s,
            "errors": float(sum(f.errors.values())),
            **({k: getattr(f.latency, k) for _, k, _, _ in LOAD_FIGURES[1:-1]} if f.latency else {}),
        }
        out[f.url] = {
            k: (label, unit, d, [value]) for label, k, unit, d in LOAD_FIGURES if (value := got.get(k)) is not None
        }
        return out
    for result in doc.variants:
        if result.summary is not None:
            out[result.name] = {
                k: (label, unit, d, values) for label, k, unit, d in RUN_FIGURES if (values := _values(result, k))
            }
    return out


def _values(v: VariantResult, key: str) -> list[float]:
    summaries = v.runs if len(v.runs) > 1 else [v.summary] if v.summary is not None else []
    return [float(x) for s in summaries if (x := getattr(s, key)) is not None]


def judge(a: Sequence[float], b: Sequence[float]) -> tuple[str, float | None]:
    """The verdict on one figure, and Welch's p when both sides have repeated runs."""
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    p = welch_p(a, b) if len(a) > 1 and len(b) > 1 else None
    if ma == mb:
        return NO_CHANGE, p
    relative = abs(mb - ma) / abs(ma) if ma else math.inf
    if relative <= NOISE_FLOOR:
        return NO_CHANGE, p
    return (CHANGED if p is None or p < ALPHA else NO_CHANGE), p


def _side(values: Sequence[float]) -> Side:
    return Side(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0, len(values))


def compare(base: Document, other: Document) -> Comparison:
    """Every figure both runs measured, for every variant both ran."""
    fa, fb = figures_of(base), figures_of(other)
    pairs = [(name, name, name) for name in fa if name in fb]
    notes = []
    if not pairs and len(fa) == 1 and len(fb) == 1:  # one variant each: --variants sync against --variants asyncio
        (na,), (nb,) = fa, fb
        pairs = [(f"{na} → {nb}", na, nb)]
        notes.append(f"{other.run_id}: its one variant {nb} compared with {na}")
    for name in fb:
        if name not in fa and not any(nb == name for _, _, nb in pairs):
            notes.append(f"{other.run_id}: {name} is not in {base.run_id}")
    rows = []
    for shown, na, nb in pairs:
        for key, (label, unit, direction, a) in fa[na].items():
            if key not in fb[nb]:
                continue
            b = fb[nb][key][3]
            verdict, p = judge(a, b)
            sa, sb = _side(a), _side(b)
            ratio = sb.mean / sa.mean if sa.mean else None
            slower = None
            if verdict == CHANGED and direction and sa.mean and sb.mean:
                change = (sb.mean / sa.mean - 1) if direction > 0 else (sa.mean / sb.mean - 1)
                slower = 100 * change if change > 0 else None
            rows.append(Row(shown, label, unit, sa, sb, ratio, p, verdict, slower))
    if isinstance(base, RunDocument) and isinstance(other, RunDocument) and base.time_scale != other.time_scale:
        notes.append(f"{other.run_id}: another time scale ({other.time_scale:g}): compare ratios, not seconds")
    if type(base) is not type(other):
        notes.append(f"{other.run_id}: a {_kind(other)} against a {_kind(base)}: nothing to compare")
    return Comparison(other.run_id, rows, notes)


def _kind(doc: Document) -> str:
    return "bench load" if isinstance(doc, LoadDocument) else "bench run"


def compare_all(docs: Sequence[Document]) -> list[Comparison]:
    return [compare(docs[0], other) for other in docs[1:]]


def slowdowns(comparisons: Sequence[Comparison], pct: float) -> list[tuple[str, Row]]:
    """The figures slower beyond noise and by more than ``pct`` percent."""
    return [(c.run, r) for c in comparisons for r in c.rows if r.slower_pct is not None and r.slower_pct > pct]


def how_judged() -> str:
    return (
        f"'changed': Welch's t-test over the runs gives p < {ALPHA:g} and the means differ by more than "
        f"{NOISE_FLOOR:.0%}; where a side ran once, the values differ by more than {NOISE_FLOOR:.0%} "
        "(the run-to-run noise floor)."
    )


def _value(s: Side, unit: str) -> str:
    if unit == "n":  # a count: lost, errors
        return f"{s.mean:g}" + (f"±{s.stdev:.2g}" if s.stdev else "")
    digits = 1 if unit == "req/s" else 3
    text = f"{s.mean:,.{digits}f}"
    return text + (f"±{s.stdev:,.{digits}f}" if s.n > 1 else "")


def _ratio(r: Row) -> str:
    return "—" if r.ratio is None else f"{r.ratio:.2f}×"


def _verdict(r: Row) -> str:
    p = f" p={r.p_value:.2g}" if r.p_value is not None else ""
    slower = f", {r.slower_pct:.0f}% slower" if r.slower_pct is not None else ""
    return f"{r.verdict}{slower}{p}"


def build_table(docs: Sequence[Document], comparisons: Sequence[Comparison]) -> Group:
    """One table per later run, each against the first (A): they stay readable at 80 columns."""
    parts: list[RenderableType] = []
    for i, c in enumerate(comparisons):
        letter = chr(ord("B") + i)
        table = Table(title=f"{letter} = {c.run}   against   A = {docs[0].run_id}", title_justify="left")
        table.add_column("variant", style="bold")
        table.add_column("figure")
        table.add_column("A", justify="right")
        table.add_column(letter, justify="right")
        table.add_column(f"{letter} / A", justify="right")
        table.add_column("verdict")
        last = None
        for r in c.rows:
            style = "bold red" if r.slower_pct is not None else "bold" if r.verdict == CHANGED else "dim"
            table.add_row(
                r.variant if r.variant != last else "",
                r.figure,
                _value(r.base, r.unit),
                _value(r.other, r.unit),
                _ratio(r),
                Text(_verdict(r), style=style),
            )
            last = r.variant
        parts.append(table)
        parts += [Text(n, style="yellow") for n in c.notes]
    parts.append(Text(how_judged(), style="dim"))
    return Group(*parts)


def to_markdown(docs: Sequence[Document], comparisons: Sequence[Comparison]) -> str:
    lines = [f"Compared with `{docs[0].run_id}` (A).", ""]
    for i, c in enumerate(comparisons):
        letter = chr(ord("B") + i)
        lines += [f"### {letter} = `{c.run}`", "", "| variant | figure | A | B | B / A | verdict |"]
        lines.append("|---|---|---:|---:|---:|---|")
        lines += [
            f"| {r.variant} | {r.figure} | {_value(r.base, r.unit)} | {_value(r.other, r.unit)} | {_ratio(r)} "
            f"| {_verdict(r)} |"
            for r in c.rows
        ]
        lines += [f"\n{n}" for n in c.notes]
        lines.append("")
    lines.append(how_judged())
    return "\n".join(lines) + "\n"


def to_json(docs: Sequence[Document], comparisons: Sequence[Comparison], fail_pct: float | None) -> str:
    doc = {
        "baseline": docs[0].run_id,
        "test": "Welch's t-test (two-sided) where both sides repeated; else the noise floor",
        "alpha": ALPHA,
        "noise_floor": NOISE_FLOOR,
        "comparisons": [{"run": c.run, "rows": [asdict(r) for r in c.rows], "notes": c.notes} for c in comparisons],
        "fail_if_slower_pct": fail_pct,
        "slower": [
            {"run": run, "variant": r.variant, "figure": r.figure, "slower_pct": r.slower_pct}
            for run, r in slowdowns(comparisons, fail_pct if fail_pct is not None else 0.0)
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
