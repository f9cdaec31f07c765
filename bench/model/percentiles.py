"""Percentiles of samples kept exactly (the run's requests, short loads): one definition for all."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks.

    This is NumPy's default ("linear", Hyndman & Fan 1996 definition 7): for sorted
    x of n values the rank is h = (n - 1) q / 100 and the result
    x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]). Every sample counts; no
    rounding or bucketing.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, not {q}")
    return percentile_of_sorted(sorted(values), q)


def percentile_of_sorted(ordered: Sequence[float], q: float) -> float:
    """``percentile`` of values already in ascending order (many percentiles, one sort)."""
    h = (len(ordered) - 1) * q / 100
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])
