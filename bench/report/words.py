"""The words every format of the report uses: a figure as "mean±σ", a load or a capacity
described, who served a variant, an own app's diagnosis in sentences. Plain text, no markup.
"""

from __future__ import annotations

from collections.abc import Iterable

from bench.model.document import LocustLoad, Scaled, VariantResult
from bench.model.metrics import pid_split
from bench.model.ownapp import blocking_sentences
from bench.model.scenario import Load


def seconds(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def figure(v: VariantResult, key: str, digits: int = 3) -> str:
    """A figure of ``v`` as shown: its value, or mean ± σ over the runs when the variant ran repeatedly."""
    st = v.stats.get(key) if len(v.runs) > 1 else None
    if st is not None:
        return f"{st.mean:.{digits}f}±{st.stdev:.{digits}f}"
    return seconds(getattr(v.summary, key, None), digits)


def mean_of(v: VariantResult, key: str) -> float | None:
    """The figure's mean over the runs, or its one value."""
    st = v.stats.get(key)
    return st.mean if st is not None else getattr(v.summary, key, None)


def over_runs(variants: Iterable[VariantResult]) -> str:
    """What a table's title adds when its figures are means over repeated runs."""
    n = max((len(v.runs) for v in variants), default=0)
    return f"; mean±σ over {n} runs" if n > 1 else ""


def ratio(measured: float | None, expected: float | None) -> str:
    if measured is None or not expected:
        return "—"
    return f"{measured / expected:.2f}×"


def plural(n: int | None, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _bound(duration_s: float | None, total: int | None) -> str:
    parts = [f"{seconds(duration_s, 2)} s" if duration_s else "", f"{total} requests" if total else ""]
    return " or ".join(p for p in parts if p)


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
        return f"closed loop: {plural(load.clients, 'connection')} for {_bound(scaled.duration_s, load.total)}"
    if load.pattern == "open":
        rate = f"{scaled.rate:g}" if scaled.rate is not None else "?"
        return f"open loop: {rate} requests/s for {_bound(scaled.duration_s, load.total)}"
    who = plural(load.clients, "tab" if scaled.client == "browser" else "client")
    if not scaled.gap_s:
        return f"{who} at the same instant"
    return f"{who}, {seconds(scaled.gap_s)} s apart"


def describe_capacity(v: VariantResult) -> str:
    """What each variant was given, so that unequal budgets are visible beside the figures."""
    c = v.capacity
    parts = [plural(c.workers, "web worker"), f"{c.thread_limit} threads each"]
    if c.celery_concurrency is not None:
        parts.append(f"Celery {c.celery_concurrency} × {c.celery_pool}, prefetch {c.celery_prefetch}")
    return ", ".join(parts)


def served_by(v: VariantResult) -> str:
    if v.summary is None or not v.summary.pids:
        return "—"
    if v.capacity.workers == 1:
        return f"pid {next(iter(v.summary.pids))}"
    return pid_split(v.summary.pids, v.capacity.workers)


def theory_done(v: VariantResult, client: int) -> float | None:
    """When theory says the work of tab ``client`` (1-based) is done, if it says."""
    e = v.expected
    return e.done_s[client - 1] if e is not None and 0 < client <= len(e.done_s) else None


def diagnosis_lines(v: VariantResult) -> list[tuple[str, bool]]:
    """An own app's diagnosis in words: each blocking call with its file:line (and whether it
    blocks the event loop), the strategy, d."""
    if v.diagnosis is None:
        return []
    lines = blocking_sentences(v.endpoint or "the endpoint", v.diagnosis) or [("no blocking call was seen", False)]
    if not any(blocks for _, blocks in lines):
        lines.insert(0, ("nothing holds the event loop", False))
    lines.append((f"inferred: {v.strategy}", False))
    if v.work_s is not None:
        lines.append((f"d measured alone, before the load: {v.work_s:.3f} s", False))
    return lines


def held_lines(variants: Iterable[VariantResult]) -> list[tuple[str, list[str]]]:
    """What held each variant's event loop during its run (the loop watchdog), in words."""
    return [(v.name, [h.sentence() for h in v.loop_held]) for v in variants if v.loop_held]
