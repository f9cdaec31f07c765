from __future__ import annotations

from typing import Any

import pytest

from bench.model.claims import check
from bench.model.document import RequestRecord
from bench.model.metrics import summarise
from bench.model.scenario import Claim


def claim(**fields: Any) -> Claim:
    base: dict[str, Any] = {"id": "x", "variant": "sync", "says": "s", "why": "w", "measure": "all_done_s"}
    return Claim.model_validate({**base, **fields})


def summary_with_all_done(all_done: float, response: float = 0.01) -> Any:
    return summarise(
        [
            RequestRecord(
                client=1,
                token="t",
                sent_s=0.0,
                first_byte_s=response,
                responded_s=response,
                done_s=all_done,
                status=200,
                pid=1,
                work_start_s=0.0,
            )
        ]
    )


@pytest.mark.parametrize(("measured", "holds"), [(4.0, True), (3.5, True), (4.55, True), (3.3, False), (4.7, False)])
def test_approx_in_units_of_d(measured: float, holds: bool) -> None:
    result = check(claim(approx=4, tolerance=0.15), summary_with_all_done(measured), work_s=1.0)
    assert result.holds is holds
    assert result.measured == pytest.approx(measured)


def test_units_of_d_scale_with_the_work() -> None:
    result = check(claim(approx=4, tolerance=0.1), summary_with_all_done(40.0), work_s=10.0)
    assert result.holds
    assert "40.000 s = 4.00 d" in result.measured_text


def test_below_in_seconds_does_not_scale() -> None:
    c = claim(measure="response_p50_s", below=0.05, unit="s")
    assert check(c, summary_with_all_done(1.0, response=0.01), work_s=0.1).holds
    assert not check(c, summary_with_all_done(1.0, response=0.2), work_s=100.0).holds


def test_above() -> None:
    c = claim(measure="parallelism", above=2)
    assert not check(c, summary_with_all_done(1.0), work_s=1.0).holds


def test_a_claim_that_does_not_hold_explains_and_shows_the_split() -> None:
    c = claim(approx=2, if_not="The workers raced.")
    result = check(c, summary_with_all_done(4.0), work_s=1.0, pid_split="4 on pid 12, 0 on the other 1 worker")
    assert not result.holds
    assert result.note is not None
    assert "The workers raced." in result.note and "4 on pid 12" in result.note


def test_nothing_measured_never_holds() -> None:
    result = check(claim(approx=1), None, work_s=1.0)
    assert not result.holds and result.measured_text == "not measured"


def test_a_claim_needs_exactly_one_comparison() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        claim(approx=1, below=2)
    with pytest.raises(ValueError, match="exactly one"):
        claim()


def test_a_claim_in_units_of_the_theory() -> None:
    from bench.model.document import Expected

    theory = Expected(model="m", all_responded_s=2.0, all_done_s=2.0, responded_s=[2.0], done_s=[2.0])
    c = claim(approx=1, unit="theory", tolerance=0.1)
    assert check(c, summary_with_all_done(2.1), work_s=1.0, expected=theory).holds
    assert not check(c, summary_with_all_done(1.0), work_s=1.0, expected=theory).holds
    assert "× theory" in check(c, summary_with_all_done(2.1), work_s=1.0, expected=theory).expected_text
    with pytest.raises(ValueError, match="unit 'theory'"):
        claim(measure="lost", approx=1, unit="theory")
