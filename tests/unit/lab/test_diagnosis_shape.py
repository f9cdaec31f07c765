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
