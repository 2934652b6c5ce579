"""Two stages, orders -> ledger, exactly-once end to end under faults on the local cloud;
and the check can fail: without the re-send on duplicates, charges are lost."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.chain import ChainSettings, render_chain, run_chain
from pipeline.faults import FaultRates

pytestmark = [pytest.mark.local, pytest.mark.slow]


def test_two_stages_stay_exactly_once_under_every_fault() -> None:
    # GIVEN a short run: 120 orders, re-sent and invalid ones, stock for 80% of the units
    settings = ChainSettings(orders=120, wave_size=60, consumers=2)
    # WHEN it runs under every fault at both stages, then both DLQs are redriven
    report = run_chain(settings)
    # THEN the verdict passes
    assert report.passed, render_chain(report)
    orders, ledger = report.stages
    # AND the run was not trivial: orders were accepted and refused, the faults and the
    # redrives happened at the boundaries that matter
    verdict = report.verdict
    assert verdict.accepted > 0 and verdict.refused > 0
    assert verdict.charged == verdict.accepted
    assert orders.faults["crashes_before_send"] + orders.faults["crashes_after_send"] > 0
    assert orders.outcomes.get("duplicate", 0) > 0 and ledger.outcomes.get("duplicate", 0) > 0
    assert orders.redriven > 0
    assert "VERDICT: PASS" in render_chain(report)


def test_without_the_re_send_on_duplicates_charges_are_lost_and_the_verdict_fails() -> None:
    # GIVEN orders whose charge's send often crashes after the commit
    crashes = FaultRates(crash_before_send=0.4)
    settings = ChainSettings(
        orders=60, wave_size=60, consumers=2, orders_faults=crashes, ledger_faults=FaultRates()
    )
    # WHEN the layer does not send a duplicate's downstream messages again
    report = run_chain(settings, resend_duplicates=False)
    # THEN accepted orders are left uncharged, and the verdict says so
    assert not report.passed
    assert report.verdict.problems["accepted, never charged (charge lost)"]
    assert report.verdict.charged < report.verdict.accepted
    assert dataclasses.asdict(report)["resend_duplicates"] is False
    assert "VERDICT: FAIL" in render_chain(report)
