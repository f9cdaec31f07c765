"""``bench compare``: two runs side by side, figure by figure, with the noise told apart.

A change no larger than the run-to-run spread is marked "within noise": the spread is
measured from a run's repetitions (``scenario.repeat``) where it has them, otherwise a
stated floor is used.
"""

from __future__ import annotations

import statistics

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bench.model.document import RunDocument, VariantResult
from bench.report.terminal import ratio, seconds

# A change smaller than this is not told apart from noise. Repeated runs of four-tabs here
# differed by under 1% in "all done" and a few percent in millisecond figures; 5% leaves
# room for a busier machine.
NOISE_FLOOR = 0.05


def run_noise(doc: RunDocument, result: VariantResult, key: str) -> float:
    """The run-to-run spread of one figure (standard deviation / mean) among the repetitions
    of ``result``'s variant in ``doc``, never less than ``NOISE_FLOOR``."""
    same = (result.variant, result.same_url, result.step)
    values = [
        float(getattr(v.summary, key))
        for v in doc.variants
        if (v.variant, v.same_url, v.step) == same
        and v.repetition
        and v.summary
        and getattr(v.summary, key) is not None
    ]
    if len(values) < 2 or not statistics.fmean(values):
        return NOISE_FLOOR
    return max(NOISE_FLOOR, statistics.stdev(values) / statistics.fmean(values))


COMPARED = (
    ("all responded", "all_responded_s"),
    ("all done", "all_done_s"),
    ("response p50", "response_p50_s"),
    ("response max", "response_max_s"),
    ("parallelism", "parallelism"),
    ("lost", "lost"),
    ("errors", "errors"),
)


def build_compare(a: RunDocument, b: RunDocument) -> Group:
    table = Table(
        title=f"A = {a.run_id} (time scale {a.time_scale:g})   B = {b.run_id} (time scale {b.time_scale:g})",
        title_justify="left",
    )
    table.add_column("variant", style="bold")
    table.add_column("figure")
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    table.add_column("B / A", justify="right")
    table.add_column("")
    by_name = {v.name: v for v in b.variants}
    notes: list[RenderableType] = []
    for va in a.variants:
        vb = by_name.get(va.name)
        if vb is None or va.summary is None or vb.summary is None:
            notes.append(Text(f"{va.name}: not measured in both runs", style="dim"))
            continue
        for i, (label, key) in enumerate(COMPARED):
            x, y = getattr(va.summary, key), getattr(vb.summary, key)
            fmt = (lambda n: "—" if n is None else str(n)) if isinstance(x, int) else seconds
            noise = max(run_noise(a, va, key), run_noise(b, vb, key))
            verdict = ""
            if isinstance(x, float) and isinstance(y, float) and x > 0:
                verdict = "within noise" if abs(y / x - 1) <= noise else "changed"
            table.add_row(
                va.name if i == 0 else "",
                label,
                fmt(x),
                fmt(y),
                ratio(y, x) if x else "—",
                Text(verdict, style="dim" if verdict == "within noise" else "bold"),
                end_section=i == len(COMPARED) - 1,
            )
    notes.append(
        Text(
            f"'within noise': the change is no larger than the run-to-run spread, measured from a "
            f"run's repetitions where it has them, else the {NOISE_FLOOR:.0%} floor.",
            style="dim",
        )
    )
    only_b = [v.name for v in b.variants if v.name not in {v.name for v in a.variants}]
    if only_b:
        notes.append(Text(f"only in B: {', '.join(only_b)}", style="dim"))
    if a.time_scale != b.time_scale:
        notes.append(
            Text(
                "The runs used different time scales: compare ratios to 'expected', not seconds.",
                style="yellow",
            )
        )
    return Group(table, *notes)
