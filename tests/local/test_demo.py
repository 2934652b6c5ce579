"""The demo end to end on in-process moto: its verdict passes, and it can fail."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from exactly_once import Decision, Outcome
from exactly_once.keys import decode_body
from ledger.effects import LedgerLeasedEffect
from pipeline.demo import DemoSettings, render, run_demo
from pipeline.faults import FaultRates
from pipeline.resources import LedgerResources
from tests.support.aws import fake_credentials

pytestmark = [pytest.mark.local, pytest.mark.slow]

SMALL = DemoSettings(
    transactions=150,
    accounts=10,
    wave_size=75,
    concurrency=2,
    duplicate_rate=0.3,
    conflict_rate=0.05,
    invalid_rate=0.05,
    faults=FaultRates(
        crash_before_effect=0.15, crash_after_effect=0.15, lost_response=0.15, throttle=0.15
    ),
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from fake_credentials(monkeypatch)


class WithoutIdempotency:
    """The same ledger effect with the exactly-once layer bypassed (test wiring only)."""

    def __init__(self, resources: LedgerResources, dynamodb: Any) -> None:
        self._effect = LedgerLeasedEffect(dynamodb, resources.ledger_table)
        self.last_decisions: dict[str, Decision] = {}

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.last_decisions = {}
        for record in event["Records"]:
            try:
                message = self._effect.parse(decode_body(record["body"]))
            except Exception:
                self.last_decisions[record["messageId"]] = Decision(Outcome.INVALID)
                continue
            self._effect.apply(message, "", 1)
            self.last_decisions[record["messageId"]] = Decision(Outcome.PROCESSED)
        return {"batchItemFailures": []}


def test_demo_with_every_fault_kind_passes_the_verdict(aws: None) -> None:
    with mock_aws():
        report = run_demo(SMALL, out=io.StringIO())
    text = render(report)
    assert report.verdict.passed, text
    injected = ("crashes_before_effect", "crashes_after_effect", "lost_responses", "throttled")
    assert all(report.faults[kind] > 0 for kind in injected), report.faults
    assert report.redelivered > 0
    assert report.outcomes.get("duplicate", 0) > 0
    # At these rates some messages fail maxReceiveCount times: SQS moves them to the DLQ.
    assert report.verdict.applied <= report.verdict.unique_sent
    assert "VERDICT: PASS" in text


def test_the_verdict_fails_when_the_exactly_once_layer_is_bypassed(aws: None) -> None:
    with mock_aws():
        report = run_demo(SMALL, consumer=WithoutIdempotency, out=io.StringIO())  # type: ignore[arg-type]
    assert not report.verdict.passed
    assert report.verdict.applied_twice, "resends must show up as transactions applied twice"
    assert "VERDICT: FAIL" in render(report)


def test_small_demo_on_the_local_cloud_passes(aws: None) -> None:
    """The CLI's default path: the deployed stack on a moto server, the function's handler."""
    from pipeline.demo import run_demo_on_local_cloud

    settings = DemoSettings(
        transactions=80,
        accounts=5,
        wave_size=80,
        duplicate_rate=0.3,
        conflict_rate=0.05,
        invalid_rate=0.05,
        faults=FaultRates(
            crash_before_effect=0.05, crash_after_effect=0.05, lost_response=0.05, throttle=0.05
        ),
    )
    report = run_demo_on_local_cloud(settings, out=io.StringIO())
    assert report.verdict.passed, render(report)
    assert "the local cloud" in render(report)
    assert report.outcomes.get("processed", 0) > 0 and report.outcomes.get("duplicate", 0) > 0
