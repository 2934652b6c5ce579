"""A crash between any two calls, then redelivery: how many times did the effect happen?"""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics

from exactly_once import (
    DeadLetterQueue,
    ExactlyOnceBatchHandler,
    ExactlyOnceConfig,
    IdempotencyStore,
    LeasedConsumer,
    ManualClock,
    RecordStatus,
    Telemetry,
)
from exactly_once_local.events import sqs_event
from exactly_once_local.lambda_context import LocalLambdaContext
from tests.support.aws import LedgerResources
from tests.support.faults import Crash, SteppedClient, Steps
from tests.support.ledger import LedgerHarness, build_harness, transaction
from tests.support.payments import FakePaymentProvider, PaymentEffect

LEASE_SECONDS = 30


def atomic_scenario(harness: LedgerHarness) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """A batch with every kind of message; returns its records and the expected balances."""
    earlier = transaction(account_id="a", amount="1.00")
    harness.invoke(earlier)  # processed before the batch under test
    batch = harness.records(
        transaction(account_id="a", amount="2.00"),
        transaction(account_id="a", amount="4.00"),
        transaction(account_id="b", amount="8.00"),
        earlier,  # a duplicate
        "{not json",  # invalid: goes to the DLQ
    )
    return batch, {"a": 700, "b": 800}


def count_calls(resources: LedgerResources, clock: ManualClock) -> int:
    """How many AWS calls a clean run of the scenario makes."""
    steps = Steps()
    harness = build_harness(resources, clock, dynamodb=SteppedClient(resources.dynamodb, steps))
    harness.handler._dead_letters = DeadLetterQueue(
        SteppedClient(resources.sqs, steps), resources.dlq_url
    )
    batch, _ = atomic_scenario(build_harness(resources, clock))
    steps.calls.clear()
    harness.invoke_records(batch)
    return len(steps.calls)


def test_atomic_scenario_makes_three_calls(resources: LedgerResources, clock: ManualClock) -> None:
    # One cancelled transaction (it names the duplicate), one commit, one DLQ send.
    assert count_calls(resources, clock) == 3


@pytest.mark.parametrize("crash_at", range(4), ids=lambda n: f"after-{n}-calls")
def test_atomic_crash_at_any_boundary_then_redelivery_applies_each_effect_once(
    resources: LedgerResources, clock: ManualClock, crash_at: int
) -> None:
    # GIVEN a batch, and a consumer that dies after `crash_at` of its AWS calls
    batch, expected = atomic_scenario(build_harness(resources, clock))
    steps = Steps(crash_at=crash_at)
    crashing = build_harness(resources, clock, dynamodb=SteppedClient(resources.dynamodb, steps))
    crashing.handler._dead_letters = DeadLetterQueue(
        SteppedClient(resources.sqs, steps), resources.dlq_url
    )
    try:
        crashing.invoke_records(batch)
        steps.lost_ack()
    except Crash:
        pass
    # WHEN SQS delivers the whole batch again (the invocation failed, nothing was deleted)
    clock.advance(180)
    response = build_harness(resources, clock).invoke_records(batch)
    # THEN every effect happened exactly once and the invalid message sits in the DLQ
    assert response == {"batchItemFailures": []}
    assert {acct: resources.balance(acct) for acct in expected} == expected
    assert resources.applied_count("a") == 3
    dead = resources.dead_letters()
    assert dead and {d["Body"] for d in dead} == {"{not json"}


def leased_handler(
    resources: LedgerResources, clock: ManualClock, provider: FakePaymentProvider, steps: Steps
) -> ExactlyOnceBatchHandler:
    config = ExactlyOnceConfig.from_env(resources.environ(LEASE_MAX_SECONDS=str(LEASE_SECONDS)))
    return ExactlyOnceBatchHandler(
        consumer=LeasedConsumer(
            config=config,
            client=SteppedClient(resources.dynamodb, steps),
            effect=PaymentEffect(provider, steps),
            clock=clock,
        ),
        dead_letters=DeadLetterQueue(resources.sqs, resources.dlq_url),
        telemetry=Telemetry(Logger(service="leased-test"), Metrics(namespace="Test")),
    )


@pytest.mark.parametrize(
    ("crash_at", "expected_attempt"),
    [(0, 1), (1, 2), (2, 2), (3, 1)],
    ids=["before-lease", "after-lease", "after-effect", "after-complete"],
)
def test_leased_crash_at_any_boundary_then_redelivery(
    resources: LedgerResources, clock: ManualClock, crash_at: int, expected_attempt: int
) -> None:
    # GIVEN a leased consumer whose effect is an external call that takes the key
    provider = FakePaymentProvider()
    message = transaction(account_id="a", amount="3.00")
    record = build_harness(resources, clock).records(message)
    steps = Steps(crash_at=crash_at)
    try:
        leased_handler(resources, clock, provider, steps)(
            sqs_event(*record), LocalLambdaContext(clock)
        )
        steps.lost_ack()
    except Crash:
        pass
    # WHEN SQS redelivers it after the visibility timeout (longer than any lease)
    clock.advance(LEASE_SECONDS + 1)
    response = leased_handler(resources, clock, provider, Steps())(
        sqs_event(*record), LocalLambdaContext(clock)
    )
    # THEN it is done, the provider charged it at most once, and the record tells the story
    assert response == {"batchItemFailures": []}
    assert len(provider.applied) == 1, provider.calls
    stored = IdempotencyStore(resources.dynamodb, resources.idempotency_table).get(
        next(iter(provider.applied))
    )
    assert stored is not None and stored.status is RecordStatus.COMPLETED
    assert stored.attempt == expected_attempt, "attempt 2 means a lease ran out mid-way"
    if expected_attempt == 2:
        assert stored.previous_owner, "the takeover names the owner whose lease ran out"


def test_leased_mode_with_an_effect_that_ignores_the_key_applies_twice_and_says_so(
    resources: LedgerResources, clock: ManualClock
) -> None:
    """Why atomic mode exists: an UpdateItem outside the transaction takes no key."""
    steps = Steps(crash_at=2)  # after the lease and the balance update, before completion
    crashing = build_harness(
        resources,
        clock,
        dynamodb=SteppedClient(resources.dynamodb, steps),
        EXACTLY_ONCE_MODE="leased",
        LEASE_MAX_SECONDS=str(LEASE_SECONDS),
    )
    message = transaction(account_id="a", amount="3.00")
    records = crashing.records(message)
    with pytest.raises(Crash):
        crashing.invoke_records(records)
    clock.advance(LEASE_SECONDS + 1)
    build_harness(resources, clock, EXACTLY_ONCE_MODE="leased").invoke_records(records)
    assert resources.balance("a") == 600, "the non-idempotent effect ran twice"
    [item] = resources.dynamodb.scan(TableName=resources.idempotency_table)["Items"]
    assert item["attempt"]["N"] == "2" and "previous_owner" in item
