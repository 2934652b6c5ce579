"""The short reliability campaign, as CI runs it: both modes, every fault, redrive, retention."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from pipeline.campaign import CampaignSettings, render, run_campaign
from tests.support.aws import fake_credentials

pytestmark = [pytest.mark.local, pytest.mark.slow]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from fake_credentials(monkeypatch)


def test_short_campaign_passes_with_every_fault_kind(aws: None) -> None:
    report = run_campaign(CampaignSettings(transactions=200, accounts=30), out=io.StringIO())
    text = render(report)
    assert report.passed, text
    atomic, leased = report.modes
    # Atomic mode: no lease, so no takeover can explain a double; none happened.
    assert atomic.takeovers == 0 and not atomic.verdict.explained_repeats, text
    assert atomic.verdict.applied == atomic.verdict.unique_sent, text
    assert atomic.faults["crashes_after_effect"] > 0 and atomic.faults["transaction_conflicts"] > 0
    # After the redrive nothing is left unsettled: each valid transaction applied.
    assert leased.verdict.applied >= leased.verdict.unique_sent, text
    assert report.retention.applied_twice_with_short_retention == 10
    assert "idempotency_retention" in report.retention.construct_refusal
