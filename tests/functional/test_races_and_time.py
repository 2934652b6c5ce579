"""Concurrent invocations, stale lease owners, retention, FIFO groups, lease bounds."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics

from exactly_once import (
    DeadLetterQueue,
    ExactlyOnceBatchHandler,
    ExactlyOnceConfig,
    IdempotencyRecord,
    IdempotencyStore,
    LeasedConsumer,
    LeaseLost,
    ManualClock,
    RecordStatus,
    Telemetry,
)
from exactly_once.protocol import expiration_for, lease_expiry_for, now_millis
from exactly_once_local.events import sqs_event
from exactly_once_local.lambda_context import LocalLambdaContext
from tests.support.aws import LedgerResources
from tests.support.faults import SerializedClient
from tests.support.ledger import (
    build_harness,
    failed_ids,
    lease_of,
    ledger_payload_hash,
    transaction,
)
from tests.support.payments import FakePaymentProvider, PaymentEffect

RETENTION = 3600


def barrier_before(operation: str, parties: int) -> Any:
    """Holds each thread at its first ``operation`` call until all have reached it."""
    barrier = threading.Barrier(parties, timeout=10)
    seen: set[int] = set()

    def before(name: str) -> None:
        me = threading.get_ident()
        if name == operation and me not in seen:
            seen.add(me)
            barrier.wait()

    return before


def run_concurrently(*calls: Any) -> list[Any]:
    results: queue.Queue[tuple[int, Any]] = queue.Queue()

    def run(index: int, call: Any) -> None:
        try:
            results.put((index, call()))
        except BaseException as exc:  # surfaced to the test below
            results.put((index, exc))

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    ordered = dict(results.get_nowait() for _ in calls)
    return [ordered[i] for i in range(len(calls))]


def test_two_concurrent_atomic_invocations_apply_the_effect_once(
    resources: LedgerResources, clock: ManualClock
) -> None:
    """In atomic mode the loser sees a COMPLETED record: it is a duplicate, not a retry.

    No INPROGRESS state exists in atomic mode, so the loser needs no second delivery.
    """
    lock = threading.Lock()
    client = SerializedClient(
        resources.dynamodb, lock, barrier_before("transact_write_items", parties=2)
    )
    t = transaction(account_id="a", amount="7.00")
    harnesses = [build_harness(resources, clock, dynamodb=client) for _ in range(2)]
    records = [h.records(t) for h in harnesses]  # the same transaction, two messageIds
    responses = run_concurrently(
        *(lambda h=h, r=r: h.invoke_records(r) for h, r in zip(harnesses, records, strict=True))
    )
    assert responses == [{"batchItemFailures": []}] * 2
    assert resources.balance("a") == 700
    assert sorted(o for h in harnesses for o in h.outcomes().values()) == [
        "duplicate",
        "processed",
    ]


def test_two_concurrent_leased_invocations_apply_once_and_the_loser_retries(
    resources: LedgerResources, clock: ManualClock
) -> None:
    # GIVEN two invocations that reach the lease at the same moment
    lock = threading.Lock()
    client = SerializedClient(resources.dynamodb, lock, barrier_before("put_item", parties=2))
    loser_done = threading.Event()
    provider = FakePaymentProvider(before_apply=lambda: loser_done.wait(10))
    config = ExactlyOnceConfig.from_env(resources.environ())

    def handler() -> ExactlyOnceBatchHandler:
        return ExactlyOnceBatchHandler(
            consumer=LeasedConsumer(
                config=config, client=client, effect=PaymentEffect(provider), clock=clock
            ),
            dead_letters=DeadLetterQueue(resources.sqs, resources.dlq_url),
            telemetry=Telemetry(Logger(service="race"), Metrics(namespace="Test")),
        )

    t = transaction(account_id="a")
    harness = build_harness(resources, clock)
    events = [sqs_event(*harness.records(t)) for _ in range(2)]

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response = handler()(event, LocalLambdaContext(clock))
        if response["batchItemFailures"]:
            loser_done.set()  # let the winner finish only after the loser has decided
        return response

    # WHEN both run
    responses = run_concurrently(lambda: invoke(events[0]), lambda: invoke(events[1]))
    # THEN one applied the effect, the other reports an item failure for a later retry
    failures = [r for r in responses if r["batchItemFailures"]]
    assert len(failures) == 1, responses
    assert len(provider.calls) == 1


def test_a_stale_lease_owner_can_neither_complete_nor_release_its_successors_record(
    resources: LedgerResources, clock: ManualClock
) -> None:
    store = IdempotencyStore(resources.dynamodb, resources.idempotency_table)

    # GIVEN A's lease ran out and B took the key over
    assert store.acquire(lease_of("ledger-v1#k", "A", clock.now()), clock.now()).won
    assert not store.acquire(lease_of("ledger-v1#k", "B", clock.now()), clock.now()).won, (
        "A's lease is still live"
    )
    clock.advance(31)
    takeover = store.acquire(lease_of("ledger-v1#k", "B", clock.now()), clock.now())
    assert takeover.won and takeover.existing and takeover.existing.lease_owner == "A"
    # WHEN A wakes up and tries to finish
    with pytest.raises(LeaseLost):
        store.complete("ledger-v1#k", "A", clock.now())
    with pytest.raises(LeaseLost):
        store.release("ledger-v1#k", "A", clock.now())
    # THEN B's record is untouched and B can complete it
    current = store.get("ledger-v1#k")
    assert current and current.lease_owner == "B" and current.status is RecordStatus.INPROGRESS
    store.complete("ledger-v1#k", "B", clock.now())
    done = store.get("ledger-v1#k")
    assert done and done.status is RecordStatus.COMPLETED


def test_a_zombie_whose_lease_ran_out_reports_a_failure_and_its_successor_stands(
    resources: LedgerResources, clock: ManualClock
) -> None:
    # GIVEN invocation A is slow in the effect: its lease runs out and B processes the key
    config = ExactlyOnceConfig.from_env(resources.environ(LEASE_MAX_SECONDS="30"))
    provider = FakePaymentProvider()
    harness = build_harness(resources, clock)
    t = transaction(account_id="a")
    events = [sqs_event(*harness.records(t)) for _ in range(2)]

    def handler(effect: Any) -> ExactlyOnceBatchHandler:
        return ExactlyOnceBatchHandler(
            consumer=LeasedConsumer(
                config=config, client=resources.dynamodb, effect=effect, clock=clock
            ),
            dead_letters=DeadLetterQueue(resources.sqs, resources.dlq_url),
            telemetry=Telemetry(Logger(service="zombie"), Metrics(namespace="Test")),
        )

    successor: list[dict[str, Any]] = []

    def slow_then_overtaken() -> None:
        clock.advance(31)
        successor.append(handler(PaymentEffect(provider))(events[1], LocalLambdaContext(clock)))

    zombie = handler(PaymentEffect(FakePaymentProvider(before_apply=slow_then_overtaken)))
    response = zombie(events[0], LocalLambdaContext(clock, timeout_seconds=900))
    # THEN the zombie may not complete: it reports a failure, the successor's record stands
    assert successor == [{"batchItemFailures": []}]
    assert len(response["batchItemFailures"]) == 1
    assert "no longer held" in next(iter(zombie.last_decisions.values())).reason
    [item] = resources.dynamodb.scan(TableName=resources.idempotency_table)["Items"]
    assert item["status"]["S"] == "COMPLETED" and item["attempt"]["N"] == "2"


def test_a_record_past_retention_lets_its_key_be_processed_again(
    resources: LedgerResources, clock: ManualClock
) -> None:
    """The memory trade-off: after retention the key is forgotten, even while still stored.

    Production is safe only because retention outlasts every redelivery (source retention
    + DLQ retention + margin), which the CDK construct enforces at synth time.
    """
    harness = build_harness(resources, clock, IDEMPOTENCY_RETENTION_SECONDS=str(RETENTION))
    t = transaction(account_id="a", amount="1.00")
    harness.invoke(t)
    clock.advance(RETENTION + 1)
    assert len(resources.dynamodb.scan(TableName=resources.idempotency_table)["Items"]) == 1
    harness.invoke(t)
    assert harness.outcomes() and set(harness.outcomes().values()) == {"processed"}
    assert resources.balance("a") == 200, "a late duplicate past retention applies again"


def test_within_retention_the_same_key_is_still_a_duplicate(
    resources: LedgerResources, clock: ManualClock
) -> None:
    harness = build_harness(resources, clock, IDEMPOTENCY_RETENTION_SECONDS=str(RETENTION))
    t = transaction(account_id="a", amount="1.00")
    harness.invoke(t)
    clock.advance(RETENTION - 1)
    harness.invoke(t)
    assert set(harness.outcomes().values()) == {"duplicate"}
    assert resources.balance("a") == 100


def test_fifo_failure_holds_back_the_rest_of_its_group_only(aws: None) -> None:
    from moto import mock_aws

    from tests.support.aws import create_ledger_resources

    with mock_aws():
        resources = create_ledger_resources(fifo=True)
        clock = ManualClock()
        harness = build_harness(resources, clock)
        blocked = transaction(account_id="g1")
        # GIVEN the key of g1's first message is leased by another invocation
        store = IdempotencyStore(resources.dynamodb, resources.idempotency_table)
        from exactly_once import KeySpec

        store.acquire(
            IdempotencyRecord(
                id=KeySpec("ledger-v1", "transaction_id").record_id(blocked["transaction_id"]),
                status=RecordStatus.INPROGRESS,
                payload_hash=ledger_payload_hash(blocked),
                expiration=expiration_for(clock.now(), RETENTION),
                updated_at_ms=now_millis(clock.now()),
                message_id="other",
                lease_owner="other",
                lease_expiry_ms=lease_expiry_for(clock.now(), 60, None),
            ),
            clock.now(),
        )
        records = (
            harness.records(blocked, group_id="g1")
            + harness.records(transaction(account_id="g1", amount="1.00"), group_id="g1")
            + harness.records(transaction(account_id="g2", amount="2.00"), group_id="g2")
        )
        # WHEN the batch is handled
        response = harness.invoke_records(records)
        # THEN g1's later message waits behind the first; g2 goes ahead
        assert failed_ids(response) == {records[0]["messageId"], records[1]["messageId"]}
        assert resources.balance("g1") == 0
        assert resources.balance("g2") == 200


def test_lease_ends_with_the_invocation_when_little_time_is_left(
    resources: LedgerResources, clock: ManualClock
) -> None:
    seen: list[IdempotencyRecord | None] = []
    store = IdempotencyStore(resources.dynamodb, resources.idempotency_table)
    t = transaction(account_id="a")
    harness = build_harness(resources, clock)

    class Peek(PaymentEffect):
        def apply(self, message: Any, idempotency_key: str, attempt: int) -> None:
            seen.append(store.get(idempotency_key))

    config = ExactlyOnceConfig.from_env(resources.environ(LEASE_MAX_SECONDS="600"))
    handler = ExactlyOnceBatchHandler(
        consumer=LeasedConsumer(
            config=config,
            client=resources.dynamodb,
            effect=Peek(FakePaymentProvider()),
            clock=clock,
        ),
        dead_letters=DeadLetterQueue(resources.sqs, resources.dlq_url),
        telemetry=Telemetry(Logger(service="lease"), Metrics(namespace="Test")),
    )
    handler(sqs_event(*harness.records(t)), LocalLambdaContext(clock, timeout_seconds=5))
    [lease] = seen
    assert lease is not None and lease.lease_expiry_ms is not None
    assert lease.lease_expiry_ms <= now_millis(clock.now()) + 5000


def test_a_released_lease_frees_the_key_at_once_and_the_attempts_keep_counting(
    resources: LedgerResources, clock: ManualClock
) -> None:
    store = IdempotencyStore(resources.dynamodb, resources.idempotency_table)

    # GIVEN A's effect failed and A released its lease
    assert store.acquire(lease_of("ledger-v1#r", "A", clock.now()), clock.now()).won
    store.release("ledger-v1#r", "A", clock.now())
    clock.advance(0.01)
    # WHEN B comes at once, well within A's original 30 s
    claim = store.acquire(lease_of("ledger-v1#r", "B", clock.now()), clock.now())
    # THEN B takes the key, and the record says this is the second attempt, after A
    assert claim.won
    record = store.get("ledger-v1#r")
    assert record and record.attempt == 2 and record.previous_owner == "A"
    # AND that it came after a release, not a takeover of a lease that ran out
    assert (record.releases, record.takeovers) == (1, 0)


def test_a_lease_that_ran_out_and_was_taken_over_counts_as_a_takeover(
    resources: LedgerResources, clock: ManualClock
) -> None:
    store = IdempotencyStore(resources.dynamodb, resources.idempotency_table)
    # GIVEN A's lease ran out mid-invocation
    assert store.acquire(lease_of("ledger-v1#t", "A", clock.now()), clock.now()).won
    clock.advance(31)
    # WHEN B takes the key over
    assert store.acquire(lease_of("ledger-v1#t", "B", clock.now()), clock.now()).won
    # THEN the record counts one takeover and no release
    record = store.get("ledger-v1#t")
    assert record and (record.attempt, record.releases, record.takeovers) == (2, 0, 1)


def test_a_record_without_expiration_is_claimable_in_python_and_in_dynamodb(
    resources: LedgerResources, clock: ManualClock
) -> None:
    """The condition expression and protocol.classify agree on a record missing its TTL."""
    resources.dynamodb.put_item(
        TableName=resources.idempotency_table,
        Item={"id": {"S": "ledger-v1#x"}, "status": {"S": "COMPLETED"}, "payload_hash": {"S": "h"}},
    )
    store = IdempotencyStore(resources.dynamodb, resources.idempotency_table)
    now = clock.now()
    taken = store.acquire(lease_of("ledger-v1#x", "A", now), now)
    assert taken.won
