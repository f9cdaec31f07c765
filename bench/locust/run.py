"""``bench locust``: Locust against one variant, in its web UI or headless, one machine or several.

The harness starts the variant (as ``bench run`` does), then Locust on loopback with the
host filled in: a master, and with ``processes`` that many local workers in Locust's own
distributed mode. Locust measures the responses; the ledger tells what Locust cannot
see, when the background work finished (each locust token carries its send time, see
``bench.locust.locustfile``). Both go into one run document, so ``bench show`` and
``bench compare`` read Locust runs like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import contract
from bench.engine.processes import HOST, LaunchError, free_port, last_lines, spawn, stop_async
from bench.errors import BenchError
from bench.lab.ledger import LedgerReader, LedgerWatcher, MarkerReader, WorkRecord
from bench.lab.plan import RunPlan, unfinished_result, work_env
from bench.lab.runner import launch
from bench.locust import tokens
from bench.model import metrics
from bench.model.document import LocustEntry, LocustRun, RequestRecord, Summary, VariantResult
from bench.model.load import Bucket, CurvePoint, Second, curve_of_counted, log_buckets
from bench.model.scenario import Variant

DEFAULT_UI_PORT = 8089
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"  # run by Locust, never imported here


@dataclass(frozen=True)
class LocustOptions:
    headless: bool
    users: int
    spawn_rate: float
    run_time_s: float
    processes: int  # local Locust workers; 0 = a single Locust process
    ui_port: int
    pace_s: float = 1.0  # each user starts one request per pace; 0: no wait


def check_port_free(port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            raise BenchError(f"port {port} on {HOST} is already in use; pass --port with a free one") from None


def _locust(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def commands(options: LocustOptions, host_url: str, json_file: Path, master_port: int) -> list[list[str]]:
    """The master's command line first, then one per local worker."""
    master = ["--host", host_url, "--json-file", str(json_file.with_suffix("")), "--only-summary", "--loglevel", "INFO"]
    if options.headless:
        master += [
            "--headless",
            "-u",
            str(options.users),
            "-r",
            f"{options.spawn_rate:g}",
            "-t",
            f"{max(1, round(options.run_time_s))}s",
            "--stop-timeout",
            "5",
        ]
    else:
        master += ["--web-host", HOST, "--web-port", str(options.ui_port)]
    if options.processes == 0:
        return [_locust(*master)]
    master += ["--master", "--master-bind-host", HOST, "--master-bind-port", str(master_port)]
    if options.headless:
        master += ["--expect-workers", str(options.processes), "--expect-workers-max-wait", "30"]
    worker = _locust("--worker", "--master-host", HOST, "--master-port", str(master_port))
    return [_locust(*master)] + [worker] * options.processes


async def run_locust(
    plan: RunPlan, variant: Variant, folder: Path, options: LocustOptions, announce: Callable[[str], None]
) -> tuple[VariantResult, bool]:
    """The variant under Locust, and whether a headless run was interrupted (Ctrl-C): then what
    Locust measured until then is kept, and the work still in flight is not waited for."""
    folder.mkdir(parents=True, exist_ok=True)
    interrupted = False
    result = unfinished_result(plan, variant)
    json_file = folder / "locust.json"
    own = variant.own
    if own is None:
        watcher = LedgerWatcher(LedgerReader(folder / contract.LEDGER_FILE))
        path = contract.PUSH_PATH
        settings = {contract.VARIANT: variant.name, contract.LOCUST_PACE: repr(options.pace_s)}
    else:  # an own app: its route and request, its done marker (a locust token's line)
        is_ours = lambda token: tokens.sent_at(token) is not None  # noqa: E731
        watcher = LedgerWatcher(MarkerReader(folder / (own.done_file or ".none"), own.done_pattern, is_ours))
        path = own.path or contract.PUSH_PATH
        spec = own.request
        request = {"method": spec.method, "path": path, "headers": spec.headers, "body": own.body}
        settings = {
            contract.VARIANT: variant.name,
            contract.LOCUST_PACE: repr(options.pace_s),
            contract.LOCUST_REQUEST: json.dumps(request),
        }
    push_name = f"{tokens.name_of(path)} {variant.name}"
    try:
        async with contextlib.AsyncExitStack() as stack:
            launched = await launch(stack, plan, variant, folder, work_env(plan, folder))
            server = launched.server
            result.broker = launched.sidecars.broker
            cmds = commands(options, server.base_url, json_file, free_port())
            procs = [
                spawn(
                    cmd,
                    folder / ("locust-master.log" if i == 0 else f"locust-worker-{i}.log"),
                    settings,
                )
                for i, cmd in enumerate(cmds)
            ]
            # an own app's done marker has no timestamps: it is read as the lines come, during the load
            follower = asyncio.create_task(watcher.follow())
            try:
                started = time.time()
                if options.headless:
                    interrupted = await _wait_headless(procs[0], options, folder)
                else:
                    await _serve_ui(procs[0], options, server.base_url, folder, announce)
            finally:
                for proc in procs:  # SIGTERM first: Locust writes its JSON file as it shuts down
                    await stop_async(proc, grace_s=10)
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
            entries = _read_stats(json_file, folder)
            push = next((e for e in entries if e["name"] == push_name), None)
            accepted = 0 if push is None else push["num_requests"] - push["num_failures"]
            if (own is None or own.done_file is not None) and not interrupted:
                d = plan.work_s if own is None else (own.seconds_written or plan.work_s)
                await _wait_for_count(watcher, accepted, idle_s=2 * d + 5)
    except LaunchError as exc:
        result.error = str(exc)
        return result, interrupted
    records = [r for rs in watcher.found.values() for r in rs if tokens.sent_at(r.token) is not None]
    result.status = "ok"
    result.started_at = started
    observable = own is None or own.done_file is not None
    result.summary, result.requests = locust_summary(push, records, started, observable)
    if own is not None:
        result.diagnosis, result.strategy, result.endpoint = list(own.diagnosis), own.strategy, own.endpoint
        result.interpreter = own.interpreter
    result.locust = LocustRun(
        mode="headless" if options.headless else "web UI",
        users=options.users if options.headless else None,
        spawn_rate=options.spawn_rate if options.headless else None,
        run_time_s=options.run_time_s if options.headless else None,
        workers=_workers_connected(folder / "locust-master.log", options.processes),
        stats=[LocustEntry.model_validate(e) for e in entries],
    )
    if push is not None:
        result.locust.histogram, result.locust.curve, result.locust.seconds = charts_of(push)
    return result, interrupted


def charts_of(push: dict[str, Any]) -> tuple[list[Bucket], list[CurvePoint], list[Second]]:
    """The pushes' latency histogram, percentile curve and per-second counts, from Locust's entry
    (its response times are rounded to 2 significant digits above 100 ms, as Locust stores them)."""
    counted = {float(ms): int(n) for ms, n in (push.get("response_times") or {}).items()}
    answered = {int(float(t)): int(n) for t, n in (push.get("num_reqs_per_sec") or {}).items()}
    failed = {int(float(t)): int(n) for t, n in (push.get("num_fail_per_sec") or {}).items()}
    histogram = log_buckets(min(counted), max(counted), counted.items()) if counted else []
    start = min([*answered, *failed], default=0)
    last = max([*answered, *failed], default=-1)
    seconds = [
        Second(at_s=float(t - start), requests=answered.get(t, 0) - failed.get(t, 0), errors=failed.get(t, 0))
        for t in range(start, last + 1)
    ]
    return histogram, curve_of_counted(counted), seconds


async def _wait_headless(master: subprocess.Popen[bytes], options: LocustOptions, folder: Path) -> bool:
    """Until Locust ends its run; True when Ctrl-C (or SIGTERM) ended it first."""
    deadline = time.monotonic() + options.run_time_s + 60
    try:
        while master.poll() is None:
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"Locust did not finish in time; last lines:\n{last_lines(folder / 'locust-master.log')}"
                )
            await asyncio.sleep(0.2)
    except asyncio.CancelledError:
        _take_back_cancel()
        return True  # Locust is stopped next (SIGTERM: it writes its statistics), and they are kept
    if master.returncode not in (0, 1):  # 1: some requests failed, which the figures show
        raise LaunchError(
            f"Locust exited with code {master.returncode}; last lines of "
            f"{folder / 'locust-master.log'}:\n{last_lines(folder / 'locust-master.log')}"
        )
    return False


async def _serve_ui(
    master: subprocess.Popen[bytes],
    options: LocustOptions,
    host_url: str,
    folder: Path,
    announce: Callable[[str], None],
) -> None:
    """Wait for the UI, hand it to the user, and wait for Ctrl-C (or SIGTERM) or Locust's exit."""
    url = f"http://{HOST}:{options.ui_port}"
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=1.0, trust_env=False) as client:
        while True:
            if master.poll() is not None:
                raise LaunchError(
                    f"Locust exited with code {master.returncode} before its web UI was up; last "
                    f"lines:\n{last_lines(folder / 'locust-master.log')}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url + "/")).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"Locust's web UI did not answer at {url}; last lines:\n{last_lines(folder / 'locust-master.log')}"
                )
            await asyncio.sleep(0.1)
    announce(f"Locust's web UI: {url}  (host {host_url} filled in; Ctrl-C stops Locust and the server)")
    try:
        while master.poll() is None:
            await asyncio.sleep(0.2)
    except asyncio.CancelledError:
        # Ctrl-C (or SIGTERM, which the CLI turns into it) is how a web-UI session ends:
        # take it back once and go on to stop Locust, read the ledger and report.
        _take_back_cancel()


def _take_back_cancel() -> None:
    uncancel = getattr(asyncio.current_task(), "uncancel", None)  # Python 3.11+
    if uncancel is not None:
        uncancel()


def _read_stats(json_file: Path, folder: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads(json_file.read_text())
    except (OSError, json.JSONDecodeError):
        raise LaunchError(
            f"Locust wrote no statistics ({json_file}); last lines:\n{last_lines(folder / 'locust-master.log')}"
        ) from None
    return [e for e in entries if isinstance(e, dict) and "name" in e]


async def _wait_for_count(watcher: LedgerWatcher, count: int, idle_s: float, cap_s: float = 300) -> None:
    """Wait until ``count`` units of work are done: as long as some keep finishing (a backlog
    draining), but no longer than ``idle_s`` without progress or ``cap_s`` in all."""
    started = last_progress = time.monotonic()
    done = -1
    while True:
        watcher.poll()
        now_done = sum(1 for rs in watcher.found.values() for r in rs if tokens.sent_at(r.token) is not None)
        now = time.monotonic()
        if now_done > done:
            done, last_progress = now_done, now
        if done >= count or now - last_progress > idle_s or now - started > cap_s:
            return
        await asyncio.sleep(0.05)


def _workers_connected(master_log: Path, expected: int) -> int:
    if expected == 0:
        return 0
    text = last_lines(master_log, 10_000)
    counts = [int(n) for n in re.findall(r"(\d+) workers? connected", text)]
    return max(counts, default=0)


def histogram_percentile(response_times: dict[str, int], q: float) -> float | None:
    """Locust's percentile over its histogram of rounded response times (ms): the smallest
    recorded time with at least q of the requests at or below it."""
    total = sum(response_times.values())
    if not total:
        return None
    seen = 0
    for ms, count in sorted(((float(k), v) for k, v in response_times.items())):
        seen += count
        if seen >= q * total:
            return ms
    return None


def locust_summary(
    push: dict[str, Any] | None, work: list[WorkRecord], started: float, observable: bool = True
) -> tuple[Summary, list[RequestRecord]]:
    """Locust's figures for the pushes, and the ledger's for their work, as one Summary. Work
    that cannot be observed (an own app with no done marker) is *unknown*, never *lost*."""
    sent_at = {r.token: tokens.sent_at(r.token) or started for r in work}
    # Time zero is when the load began (in the web UI, when the user started it), not when Locust did.
    began = [float(push["start_time"])] if push and push.get("num_requests") and push.get("start_time") else []
    t0 = min([*began, *sent_at.values()], default=started)
    records = [
        RequestRecord(
            client=i + 1,
            token=r.token,
            sent_s=sent_at[r.token] - t0,
            first_byte_s=None,
            responded_s=None,
            done_s=r.end - t0,
            status=200,
            pid=r.pid,
            work_start_s=None if r.start is None else r.start - t0,
            work_pid=r.pid,
            work_thread=r.thread,
        )
        for i, r in enumerate(sorted(work, key=lambda r: sent_at[r.token]))
    ]
    done_times = [r.done_s - r.sent_s for r in records if r.done_s is not None]
    requests = push["num_requests"] if push else 0
    failures = push["num_failures"] if push else 0
    times = push.get("response_times", {}) if push else {}

    def seconds_at(q: float) -> float | None:
        ms = histogram_percentile(times, q)
        return None if ms is None else ms / 1000

    span = (push["last_request_timestamp"] - t0) if push and push.get("last_request_timestamp") else None
    pids: dict[str, int] = {}
    for r in work:
        if r.pid is not None:  # an own app's done marker names no process
            pids[str(r.pid)] = pids.get(str(r.pid), 0) + 1
    summary = Summary(
        requests=requests,
        ok=requests - failures,
        first_response_s=None,
        response_min_s=push["min_response_time"] / 1000 if push and push.get("min_response_time") is not None else None,
        response_p50_s=seconds_at(0.5),
        response_p95_s=seconds_at(0.95),
        response_p99_s=seconds_at(0.99),
        response_max_s=push["max_response_time"] / 1000 if push else None,
        all_responded_s=span,
        all_done_s=max((r.done_s for r in records if r.done_s is not None), default=None),
        done_time_p50_s=metrics.percentile(done_times, 50) if done_times else None,
        done_time_max_s=max(done_times, default=None),
        parallelism=metrics.parallelism([(r.start, r.end) for r in work if r.start is not None]),
        lost=max(0, requests - failures - len(work)) if observable else 0,
        unknown=0 if observable else requests - failures,
        errors=failures,
        errors_by_kind={"failed (as Locust counts)": failures} if failures else {},
        pids=dict(sorted(pids.items(), key=lambda kv: -kv[1])),
        throughput_rps=(requests - failures) / span if span else None,
    )
    return summary, records
