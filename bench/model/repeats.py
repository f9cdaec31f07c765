"""Repeated runs of one variant (``bench run --runs N --warmup K``), as hyperfine repeats a command.

Every figure of the summary becomes mean ± standard deviation with min…max over the runs
(``FigureStats``); the run closest to the median of the main figure stands for the others
(its requests draw the timeline). Two warnings, as hyperfine gives them: a run far from the
others (an outlier by the modified z-score of Iglewicz and Hoaglin: |0.6745 (x - median) /
MAD| > 3.5), and a first run clearly slower than the rest (a cold start: caches, imports,
the first connection). Pure functions, no I/O.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import get_args

from bench.model.document import FigureStats, Summary

# The figure a run is judged by, in order of preference: when everything was done, else
# when everything was answered, else how fast it went (closed and open loops).
MAIN_FIGURES = ("all_done_s", "all_responded_s", "throughput_rps")
OUTLIER_Z = 3.5
# A change of less than this is not told apart from run-to-run noise (also bench compare's floor):
# repeated runs of four-tabs here differed by under 1 % in "all done" and a few percent in
# millisecond figures; 5 % leaves room for a busier machine.
NOISE_FLOOR = 0.05


def numeric_figures() -> list[str]:
    """The summary's figures that are numbers (seconds, counts, ratios), in the summary's order."""
    return [name for name, field in Summary.model_fields.items() if _is_number(field.annotation)]


def _is_number(annotation: object) -> bool:
    kinds = set(get_args(annotation)) or {annotation}
    return kinds <= {int, float, type(None)} and bool(kinds & {int, float})


def stats_of(values: Sequence[float]) -> FigureStats:
    return FigureStats(
        mean=statistics.fmean(values),
        stdev=statistics.stdev(values) if len(values) > 1 else 0.0,
        min=min(values),
        max=max(values),
        n=len(values),
    )


def figure_stats(summaries: Sequence[Summary]) -> dict[str, FigureStats]:
    """Every numeric figure over the runs that measured it (n says how many did)."""
    out: dict[str, FigureStats] = {}
    for name in numeric_figures():
        values = [float(v) for s in summaries if (v := getattr(s, name)) is not None]
        if values:
            out[name] = stats_of(values)
    return out


def main_figure(summaries: Sequence[Summary]) -> str | None:
    """The first of MAIN_FIGURES that every run measured."""
    return next((k for k in MAIN_FIGURES if summaries and all(getattr(s, k) is not None for s in summaries)), None)


def median_run(summaries: Sequence[Summary]) -> int:
    """The index of the run that stands for the others: its main figure is the closest to the median."""
    key = main_figure(summaries)
    if key is None:
        return 0
    values = [float(getattr(s, key)) for s in summaries]
    middle = statistics.median(values)
    return min(range(len(values)), key=lambda i: (abs(values[i] - middle), i))


def mean_summary(summary: Summary, stats: dict[str, FigureStats]) -> Summary:
    """``summary`` with every figure replaced by its mean over the runs (claims are checked on it)."""
    return summary.model_copy(update={k: s.mean for k, s in stats.items()})


def outliers(values: Sequence[float]) -> list[int]:
    """Indexes of the runs whose value is an outlier by the modified z-score (needs 3 runs or more)
    and off the median by more than the noise floor: sleeps measured to the millisecond would
    otherwise make a 0.3 % wobble an outlier."""
    if len(values) < 3:
        return []
    middle = statistics.median(values)
    mad = statistics.median(abs(v - middle) for v in values)
    far = [i for i, v in enumerate(values) if middle and abs(v / middle - 1) > NOISE_FLOOR]
    if mad == 0:
        return far
    return [i for i in far if abs(0.6745 * (values[i] - middle) / mad) > OUTLIER_Z]


def slower(key: str) -> int:
    """+1 when a larger value of the figure is slower (times), -1 when smaller is (throughput)."""
    return -1 if key == "throughput_rps" else 1


def cold_start(values: Sequence[float], key: str) -> bool:
    """The first run slower than every other run, and by more than the noise floor and 3 σ of the rest."""
    if len(values) < 3:
        return False
    first, rest = slower(key) * values[0], [slower(key) * v for v in values[1:]]
    mean = statistics.fmean(rest)
    margin = max(abs(mean) * NOISE_FLOOR, 3 * statistics.stdev(rest))
    return first > max(rest) and first - mean > margin


def warnings(name: str, summaries: Sequence[Summary], warmups: int) -> list[str]:
    """What a hyperfine user is warned of: outlier runs, and a slow first run (use --warmup)."""
    key = main_figure(summaries)
    if key is None:
        return []
    values = [float(getattr(s, key)) for s in summaries]
    said = []
    if cold_start(values, key):
        fix = "more --warmup runs" if warmups else "--warmup 1"
        said.append(
            f"{name}: the first run was clearly slower than the others ({key} {values[0]:.3g} against a mean "
            f"of {statistics.fmean(values[1:]):.3g} for the rest): a cold start; try {fix}."
        )
    far = [i for i in outliers(values) if not (i == 0 and said)]
    if far:
        runs = ", ".join(f"run {i + 1} ({values[i]:.3g})" for i in far)
        said.append(
            f"{name}: {runs} far from the other runs' {key} (median {statistics.median(values):.3g}): "
            "something else ran on the machine meanwhile? Rerun on a quiet machine, or with more --runs."
        )
    return said
