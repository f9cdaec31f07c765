"""Checking the tutorial's claims, written as data in scenarios.yaml, against a run."""

from __future__ import annotations

from collections.abc import Sequence

from bench.model.document import ClaimResult, Expected, Summary, TaskControlFacts
from bench.model.holds import LoopHeld
from bench.model.scenario import Claim, WorkSlots


def threshold(claim: Claim, work_s: float, expected: Expected | None = None) -> float:
    """The claim's reference value in seconds (or as a plain number for counts/ratios)."""
    value = next(v for v in (claim.approx, claim.below, claim.above) if v is not None)
    if claim.unit == "theory":
        return value * getattr(expected, claim.measure) if expected is not None else float("nan")
    return value * work_s if claim.unit == "d" and _is_time(claim) else value


# Figures about every request: with one failed they are not measured (the failed ones never
# answered, and their work may or may not have been done)
ALL_OF_THEM = frozenset({"all_responded_s", "all_done_s", "done_time_max_s", "response_max_s", "parallelism"})


def _is_time(claim: Claim) -> bool:
    return claim.measure.endswith("_s")


def check(
    claim: Claim,
    summary: Summary | None,
    work_s: float,
    pid_split: str = "",
    facts: TaskControlFacts | None = None,
    expected: Expected | None = None,
) -> ClaimResult:
    """Compare one measured figure with the claim; ``work_s`` is the (scaled) work duration d.

    The figure comes from the summary, or from ``facts`` that an experiment measured."""
    ref = threshold(claim, work_s, expected)
    if facts is not None and claim.measure in TaskControlFacts.model_fields:
        measured: float | None = getattr(facts, claim.measure)
    else:
        measured = getattr(summary, claim.measure, None) if summary is not None else None
    incomplete = summary is not None and summary.errors > 0 and claim.measure in ALL_OF_THEM
    if incomplete:
        measured = None  # "all done" over the requests that succeeded is not all of them: never judged so
    span = expected.all_done_range_s if expected is not None and claim.unit == "theory" else None
    if claim.approx is not None and span is not None and claim.measure == "all_done_s":
        lo, hi = span[0] * claim.approx * (1 - claim.tolerance), span[1] * claim.approx * (1 + claim.tolerance)
        holds = measured is not None and lo <= measured <= hi
        expected_text = f"{span[0]:.3g} s … {span[1]:.3g} s (the race's range, ±{claim.tolerance:.0%})"
    elif claim.approx is not None:
        lo, hi = ref * (1 - claim.tolerance), ref * (1 + claim.tolerance)
        holds = measured is not None and lo <= measured <= hi
        expected_text = f"≈ {_fmt(claim, claim.approx, ref)} (±{claim.tolerance:.0%})"
    elif claim.below is not None:
        holds = measured is not None and measured < ref
        expected_text = f"< {_fmt(claim, claim.below, ref)}"
    else:
        holds = measured is not None and measured > ref
        expected_text = f"> {_fmt(claim, claim.above or 0.0, ref)}"
    measured_text = "not measured" if measured is None else _measured(claim, measured, work_s)
    if incomplete and summary is not None:
        measured_text = f"{summary.errors} of {summary.requests} requests failed"
    note = None
    if not holds:
        note = claim.if_not.strip() if claim.if_not else _not_held(claim)
        if pid_split:
            note += f" Served by: {pid_split}."
    return ClaimResult(
        id=claim.id,
        variant=claim.variant,
        says=claim.says,
        holds=holds,
        measured=measured,
        measured_text=measured_text,
        expected_text=expected_text,
        why=claim.why,
        note=note,
        tutorial=claim.tutorial,
    )


def _not_held(claim: Claim) -> str:
    """Why a claim without its own explanation did not hold: the tutorial's statement is a
    finding about the tutorial; the lab's own prediction failing means its model was wrong."""
    if claim.tutorial:
        return "The tutorial's statement does not hold here: a finding (see the figures)."
    return (
        "The lab's model was wrong for this run: the measured figure is outside its prediction. "
        "Check the run's warnings (a busy machine disturbs timing); on a quiet machine this is a "
        "gap in the model (see what held the event loop, and the probes)."
    )


def _fmt(claim: Claim, value: float, seconds: float) -> str:
    if not _is_time(claim):
        return f"{value:g}"
    if claim.unit == "d":
        return f"{value:g} d = {seconds:.3g} s"
    if claim.unit == "theory":
        return f"{value:g} × theory = {seconds:.3g} s"
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _measured(claim: Claim, measured: float, work_s: float) -> str:
    if not _is_time(claim):
        return f"{measured:.3g}"
    if claim.unit == "s" or not work_s:  # d unknown: the figure alone, never divided by it
        return f"{measured * 1000:.1f} ms" if measured < 1 else f"{measured:.3f} s"
    return f"{measured:.3f} s = {measured / work_s:.2f} d"


def model_wrong(result: ClaimResult, work_slots: WorkSlots | None, held: Sequence[LoopHeld]) -> ClaimResult:
    """An own app's prediction that failed, explained by what the loop watchdog saw: when the
    model let requests overlap but something held the event loop, the model was wrong there."""
    if result.holds or not held or work_slots == 1:
        return result
    top = held[0]
    note = (
        f"The lab's model was wrong: it let requests overlap ({work_slots} at once), but the loop "
        f"watchdog saw {top.sentence()}: the diagnosis missed it."
    )
    return result.model_copy(update={"note": note})
