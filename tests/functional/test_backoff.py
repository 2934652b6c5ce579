"""Transactions cancelled by contention are retried after a jittered wait, bounded by the
invocation's remaining time."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from exactly_once import AtomicConsumer, ExactlyOnceConfig, ManualClock
from exactly_once_local.moto_resources import REGION, create_consumer_resources
from orders.effect import INVENTORY_TABLE_ENV, ORDERS_TABLE_ENV, OrdersEffect

pytestmark = pytest.mark.usefixtures("aws")


class Contended:
    """A client whose first ``conflicts`` transactions are cancelled by a rival writer."""

    def __init__(self, client: Any, conflicts: int) -> None:
        self._client = client
        self.conflicts = conflicts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self.conflicts > 0:
            self.conflicts -= 1
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [
                        {"Code": "TransactionConflict"} for _ in kwargs["TransactItems"]
                    ],
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**kwargs)


def run(conflicts: int, remaining_ms: int | None) -> tuple[list[float], dict[str, str]]:
    with mock_aws():
        resources = create_consumer_resources(
            boto3.client("dynamodb", region_name=REGION),
            boto3.client("sqs", region_name=REGION),
            key_prefix="orders-v1",
            key_path="order_id",
        )
        inventory = resources.table("inventory", "sku", env=INVENTORY_TABLE_ENV)
        orders = resources.table("orders", "order_id", env=ORDERS_TABLE_ENV)
        resources.dynamodb.put_item(
            TableName=inventory, Item={"sku": {"S": "s"}, "stock": {"N": "5"}}
        )
        slept: list[float] = []
        consumer = AtomicConsumer(
            config=ExactlyOnceConfig.from_env(resources.environ()),
            client=Contended(resources.dynamodb, conflicts),
            effect=OrdersEffect(inventory_table=inventory, orders_table=orders),
            clock=ManualClock(),
            sleep=slept.append,
            jitter=lambda low, high: high,  # the longest wait the jitter allows
        )
        records = resources.records({"order_id": "o-1", "sku": "s", "quantity": 1})
        decisions = consumer.decide(records, lambda: remaining_ms)
        return slept, {d.outcome.value: d.reason for d in decisions.values()}


def test_two_conflicts_wait_up_to_the_doubling_bound_then_commit() -> None:
    slept, outcomes = run(conflicts=2, remaining_ms=None)
    assert slept == [0.025, 0.05]
    assert list(outcomes) == ["processed"]


def test_the_wait_never_eats_into_the_invocations_last_half_second() -> None:
    slept, _ = run(conflicts=2, remaining_ms=520)
    assert slept == [0.02, 0.02]


def test_three_conflicts_give_up_and_retry_later_naming_the_reason() -> None:
    slept, outcomes = run(conflicts=3, remaining_ms=None)
    assert len(slept) == 2
    assert outcomes == {
        "failed": "transaction kept being cancelled (TransactionConflict); retry later"
    }
