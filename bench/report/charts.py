"""The latency charts of the HTML pages, as inline SVG (no script, no library).

- a latency histogram in logarithmic buckets (latencies span decades);
- latency by percentile on a logarithmic axis, as wrk2 and HdrHistogram plot it: the x axis
  is 1 / (1 - percentile), so 90 %, 99 %, 99.9 % ... are evenly spaced and the tail shows;
- throughput and p99 second by second, to see a load settle, stall or degrade.

Each function returns "" when there is nothing worth drawing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from bench.model.load import Bucket, CurvePoint, Second

W, H = 440, 220
LEFT, RIGHT, TOP, BOTTOM = 54, 12, 14, 34
BLUE, ORANGE, GREY = "#3b7dd8", "#f0a030", "#999"


def _ms(v: float) -> str:
    return f"{v:.3g}"


def _frame(kind: str, label: str, body: list[str], x_title: str, y_title: str) -> str:
    return (
        f'<svg class="chart {kind}" width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{escape(label)}">'
        f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="{GREY}"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="{GREY}"/>'
        + "".join(body)
        + f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 4}" font-size="10" text-anchor="middle">{escape(x_title)}</text>'
        f'<text x="10" y="{(TOP + H - BOTTOM) / 2}" font-size="10" text-anchor="middle" '
        f'transform="rotate(-90 10 {(TOP + H - BOTTOM) / 2})">{escape(y_title)}</text></svg>'
    )


def _y_ticks(top: float, y: Callable[[float], float], fmt: str = "{:.3g}") -> list[str]:
    out = []
    for i in range(5):
        value = top * i / 4
        at = y(value)
        out.append(
            f'<line x1="{LEFT - 3}" y1="{at:.1f}" x2="{W - RIGHT}" y2="{at:.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 5}" y="{at + 3:.1f}" font-size="9" text-anchor="end">{fmt.format(value)}</text>'
        )
    return out


def histogram_svg(buckets: Sequence[Bucket], label: str = "latency histogram") -> str:
    """Bars over logarithmic latency buckets: how many requests took how long."""
    if not buckets or sum(b.count for b in buckets) == 0:
        return ""
    top = max(b.count for b in buckets)
    span = W - LEFT - RIGHT
    width = span / len(buckets)

    def y(count: float) -> float:
        return H - BOTTOM - (H - BOTTOM - TOP) * count / top

    body = _y_ticks(top, y, "{:.0f}")
    for i, b in enumerate(buckets):
        x = LEFT + i * width
        body.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{y(b.count):.1f}" width="{width - 2:.1f}" '
            f'height="{H - BOTTOM - y(b.count):.1f}" fill="{BLUE}"><title>{_ms(b.from_ms)}–{_ms(b.to_ms)} ms: '
            f"{b.count} requests</title></rect>"
        )
        if i % 2 == 0 or len(buckets) <= 6:
            body.append(
                f'<text x="{x:.1f}" y="{H - BOTTOM + 12}" font-size="9" text-anchor="middle">{_ms(b.from_ms)}</text>'
            )
    body.append(
        f'<text x="{W - RIGHT:.1f}" y="{H - BOTTOM + 12}" font-size="9" text-anchor="end">'
        f"{_ms(buckets[-1].to_ms)}</text>"
    )
    return _frame("histogram", label, body, "latency (ms, logarithmic buckets)", "requests")


def _tail(percentile: float) -> float:
    """x of a percentile on the log axis: log10(1 / (1 - p)); 0 % is 0, 90 % is 1, 99 % is 2."""
    return math.log10(1 / max(1e-9, 1 - percentile / 100))


def percentile_svg(curve: Sequence[CurvePoint], label: str = "latency by percentile") -> str:
    """Latency against percentile, the percentile axis logarithmic in the tail (wrk2's plot)."""
    if len(curve) < 3:
        return ""
    inner = [p for p in curve if p.percentile < 100]
    end = max(_tail(inner[-1].percentile) + 0.5, 1.0)  # where 100 % (the max) is drawn
    top = max(p.ms for p in curve) * 1.05 or 1.0

    def x(p: CurvePoint) -> float:
        at = end if p.percentile >= 100 else _tail(p.percentile)
        return LEFT + (W - LEFT - RIGHT) * at / end

    def y(ms: float) -> float:
        return H - BOTTOM - (H - BOTTOM - TOP) * ms / top

    body = _y_ticks(top, y)
    for decade in range(int(end) + 1):
        nines = 100 * (1 - 10.0**-decade)
        at = LEFT + (W - LEFT - RIGHT) * decade / end
        text = f"{nines:.{max(0, decade - 2)}f}%"
        anchor = "end" if at > W - RIGHT - 20 else "middle"  # the last label stays inside the chart
        body.append(
            f'<line x1="{at:.1f}" y1="{TOP}" x2="{at:.1f}" y2="{H - BOTTOM}" stroke="#eee"/>'
            f'<text x="{at:.1f}" y="{H - BOTTOM + 12}" font-size="9" text-anchor="{anchor}">{text}</text>'
        )
    points = " ".join(f"{x(p):.1f},{y(p.ms):.1f}" for p in curve)
    body.append(f'<polyline class="curve" points="{points}" fill="none" stroke="{BLUE}" stroke-width="2"/>')
    body += [
        f'<circle cx="{x(p):.1f}" cy="{y(p.ms):.1f}" r="2" fill="{BLUE}"><title>p{p.percentile:g}: '
        f"{_ms(p.ms)} ms</title></circle>"
        for p in curve
    ]
    return _frame("percentiles", label, body, "percentile (logarithmic: 1 / (1 − p)); the last point is the max", "ms")


def per_second_svg(seconds: Sequence[Second], label: str = "throughput and p99 per second") -> str:
    """Bars: requests answered each second; line: that second's p99 (its own scale, on the right)."""
    if len(seconds) < 2:
        return ""
    top = max(s.requests + s.errors for s in seconds) or 1
    p99s = [s.p99_ms for s in seconds if s.p99_ms is not None]
    top_ms = (max(p99s) * 1.1) if p99s else 1.0
    width = (W - LEFT - RIGHT) / len(seconds)

    def y(count: float) -> float:
        return H - BOTTOM - (H - BOTTOM - TOP) * count / top

    def y_ms(ms: float) -> float:
        return H - BOTTOM - (H - BOTTOM - TOP) * ms / top_ms

    body = _y_ticks(top, y, "{:.0f}")
    step = max(1, math.ceil(len(seconds) / 10))
    for i, s in enumerate(seconds):
        x = LEFT + i * width
        body.append(
            f'<rect class="second" x="{x + 0.5:.1f}" y="{y(s.requests):.1f}" width="{max(0.5, width - 1):.1f}" '
            f'height="{H - BOTTOM - y(s.requests):.1f}" fill="{BLUE}" opacity="0.55"><title>{s.at_s:g} s: '
            f"{s.requests} answered, {s.errors} failed, p99 {_ms(s.p99_ms) if s.p99_ms else '—'} ms</title></rect>"
        )
        if s.errors:
            body.append(
                f'<rect x="{x + 0.5:.1f}" y="{y(s.requests + s.errors):.1f}" width="{max(0.5, width - 1):.1f}" '
                f'height="{y(s.requests) - y(s.requests + s.errors):.1f}" fill="#c62828"/>'
            )
        if i % step == 0:
            body.append(
                f'<text x="{x + width / 2:.1f}" y="{H - BOTTOM + 12}" font-size="9" '
                f'text-anchor="middle">{s.at_s:g}</text>'
            )
    line = " ".join(
        f"{LEFT + (i + 0.5) * width:.1f},{y_ms(s.p99_ms):.1f}" for i, s in enumerate(seconds) if s.p99_ms is not None
    )
    if p99s:  # Locust keeps no p99 per second: then the bars alone
        body.append(f'<polyline class="p99" points="{line}" fill="none" stroke="{ORANGE}" stroke-width="2"/>')
        body.append(
            f'<text x="{W - RIGHT}" y="{TOP - 3}" font-size="9" text-anchor="end" fill="{ORANGE}">'
            f"p99, up to {_ms(top_ms)} ms</text>"
        )
    return _frame("per-second", label, body, "seconds from the first request", "requests per second (bars)")


def latency_section(histogram: str, curve: str, per_second: str) -> str:
    """The three charts side by side (they wrap on a narrow page)."""
    charts = [c for c in (histogram, curve, per_second) if c]
    return f"<div class='charts'>{''.join(charts)}</div>" if charts else ""
