from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from moto import mock_aws

from exactly_once import ManualClock
from tests.support.aws import LedgerResources, create_ledger_resources, fake_credentials
from tests.support.ledger import LedgerHarness, build_harness


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from fake_credentials(monkeypatch)


@pytest.fixture
def resources(aws: None) -> Iterator[LedgerResources]:
    with mock_aws():
        yield create_ledger_resources()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(current=time.time())


@pytest.fixture
def ledger(resources: LedgerResources, clock: ManualClock) -> LedgerHarness:
    return build_harness(resources, clock)


@pytest.fixture
def leased_ledger(resources: LedgerResources, clock: ManualClock) -> LedgerHarness:
    return build_harness(resources, clock, EXACTLY_ONCE_MODE="leased")
