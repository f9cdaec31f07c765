"""The diagnosis crosses a process boundary as JSON: what the child writes is what the model reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.lab.witness import Call
from bench.model.ownapp_calls import FoundCall


def test_a_found_call_is_written_with_the_models_fields_and_read_back(tmp_path: Path) -> None:
    call = Call("time.sleep", str(tmp_path / "app.py"), 15, ["send"], True, "sleep", seconds=10.0, function="send")
    written = call.found(tmp_path)
    assert set(written) == set(FoundCall.model_fields)  # nothing more, nothing less: the model forbids extras
    read = FoundCall.model_validate(written)
    assert (read.call, read.file, read.line, read.seconds) == ("time.sleep", "app.py", 15, 10.0)


def test_the_rest_of_a_request_leaves_out_the_time_it_waited_for_a_cpu() -> None:
    from bench.lab.witness import Observed

    assert Observed(began=1.0, answered_at=1.05, cpu_wait_s=0.03).rest_s == pytest.approx(0.02)
    assert Observed(began=1.0, answered_at=1.05, cpu_wait_s=0.2).rest_s == 0.0  # never below nothing
    assert Observed(began=1.0, answered_at=1.05).rest_s == pytest.approx(0.05)  # no figure from the kernel: wall


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="Linux's per-thread schedstat only")
def test_run_queue_waits_count_this_threads_and_not_the_diagnosis_own() -> None:
    import threading

    from bench.lab.diagnose import run_queue_waits

    stop = threading.Event()
    helper = threading.Thread(target=stop.wait, name="bench-thread-sampler")
    helper.start()
    try:
        waits = run_queue_waits()
    finally:
        stop.set()
        helper.join()
    assert threading.get_native_id() in waits and helper.native_id not in waits
    assert all(ns >= 0 for ns in waits.values())


@pytest.mark.parametrize("cpu_wait_s", [0.0, 0.6])
def test_background_work_gets_its_grace_plus_the_time_it_waited_for_a_cpu(
    cpu_wait_s: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the answer, background work has GRACE_S to show itself, and as long again as the
    machine kept its threads from a CPU (the kernel's figure, stood in for here): on a busy machine a
    sync task's thread that started 0.3 s late was missed."""
    import asyncio
    import time

    from bench.lab import diagnose
    from bench.lab.witness import Witness

    started = time.monotonic()
    monkeypatch.setattr(  # the threads have waited cpu_wait_s since the answer, spread over 0.1 s
        diagnose, "run_queue_waits", lambda: {1: int(min(1.0, (time.monotonic() - started) / 0.1) * cpu_wait_s * 1e9)}
    )
    seen: list[float] = []

    async def app(scope: object, receive: object, send: object) -> None:  # answers, then works in the background
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"", "more_body": False})  # type: ignore[operator]
        await asyncio.sleep(diagnose.GRACE_S + 0.2)
        seen.append(time.monotonic())

    asyncio.run(diagnose._one_request(app, "/", Witness(tmp_path, "app"), diagnose.Request()))
    assert bool(seen) == (cpu_wait_s > 0.2), "waited for the late work only when the machine was busy"
