from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator
from types import ModuleType

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


@pytest.fixture
def handler_module(
    resources: LedgerResources, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """``ledger.handler`` imported afresh as Lambda would, with the stack's environment and
    Powertools' defaults (no event logging, no debug)."""
    for name, value in resources.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ExactlyOnceTest")
    for opt_in in ("POWERTOOLS_LOGGER_LOG_EVENT", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_DEBUG"):
        monkeypatch.delenv(opt_in, raising=False)
    sys.modules.pop("ledger.handler", None)
    module = importlib.import_module("ledger.handler")
    # Powertools' Metrics share one metric set per process: a new container starts empty,
    # whatever an earlier test in this worker left unflushed.
    module.lambda_handler.metrics.clear_metrics()
    yield module
    module.lambda_handler.logger.registered_handler.stream = (
        sys.__stdout__
    )  # a test may have pointed it
    sys.modules.pop("ledger.handler", None)
