"""`local up` on this repository's app: the ledger and orders stacks on one local cloud,
synthesized as ``cdk synth`` does, their queues polled, their real handlers run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from exactly_once_local.local_cloud import LocalCloud, start_local_cloud
from exactly_once_local.moto_deploy import LocalClients
from exactly_once_local.moto_server import free_port
from pipeline.local_cloud import app_assembly
from pipeline.verdict import ledger_balances

pytestmark = [pytest.mark.local, pytest.mark.slow]

LEDGER, ORDERS = "ExactlyOnceLedger-dev", "ExactlyOnceOrders-dev"
VALID = {"transaction_id": "t-1", "account_id": "acct-1", "amount": "10.00", "currency": "EUR"}
INVALID = {"transaction_id": "t-2", "account_id": "acct-1", "amount": "not money"}
# The orders stack charges its orders to the ledger: an order names its customer and price.
ORDER = {
    "order_id": "o-1",
    "sku": "sku-1",
    "quantity": 2,
    "customer_id": "customer-1",
    "unit_price_cents": 250,
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    """Every stack of the app (what `python -m pipeline local up` runs), once per module."""
    lines: list[str] = []
    running = start_local_cloud(app_assembly("dev"), free_port(), on_batch=lines.append)
    try:
        yield running
    finally:
        running.stop()


def _client(cloud: LocalCloud, service: str) -> Any:
    return LocalClients(cloud.endpoint_url, cloud.endpoint.region).client(service)


def _dead_letters(sqs: Any, url: str) -> list[dict[str, Any]]:
    dead: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not dead and time.monotonic() < deadline:
        dead = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
    return dead


def test_both_stacks_run_each_with_its_own_function(cloud: LocalCloud) -> None:
    assert list(cloud.stacks) == [LEDGER, ORDERS]
    handlers = {c.stack_name: c.function.handler for c in cloud.consumers}
    assert handlers == {
        LEDGER: "ledger.handler.lambda_handler",
        ORDERS: "orders.handler.lambda_handler",
    }
    for consumer in cloud.consumers:
        assert consumer.mapping.batch_size == 10
        assert consumer.poller.concurrency == consumer.mapping.maximum_concurrency
        assert consumer.function.code_dir is not None
        assert consumer.function.code_dir.name.startswith("asset.")
    # Each function has its own tables (and sees only its own: the next test).
    tables = {
        c.stack_name: c.function.environment["IDEMPOTENCY_TABLE_NAME"] for c in cloud.consumers
    }
    assert tables[LEDGER] != tables[ORDERS]
    described = cloud.describe()
    assert f"stack {LEDGER}" in described and f"stack {ORDERS}" in described
    assert cloud.stacks[ORDERS].outputs["QueueUrl"].startswith(cloud.endpoint_url)


def test_a_transaction_and_an_order_are_each_applied_once(cloud: LocalCloud) -> None:
    sqs, dynamodb = _client(cloud, "sqs"), _client(cloud, "dynamodb")
    ledger, orders = cloud.stacks[LEDGER].outputs, cloud.stacks[ORDERS].outputs
    dynamodb.put_item(
        TableName=orders["InventoryTableName"],
        Item={"sku": {"S": "sku-1"}, "stock": {"N": "5"}},
    )
    for body in (VALID, VALID, INVALID):  # the resend gets a new message id
        sqs.send_message(QueueUrl=ledger["QueueUrl"], MessageBody=json.dumps(body))
    for body in (ORDER, ORDER):
        sqs.send_message(QueueUrl=orders["QueueUrl"], MessageBody=json.dumps(body))

    assert cloud.wait_until_empty(timeout_seconds=180), "queues not drained in 180 s"

    balance = dynamodb.get_item(
        TableName=ledger["LedgerTableName"],
        Key={"account_id": {"S": "acct-1"}, "currency": {"S": "EUR"}},
        ConsistentRead=True,
    )["Item"]
    assert int(balance["balance_minor"]["N"]) == 1000
    stock = dynamodb.get_item(
        TableName=orders["InventoryTableName"], Key={"sku": {"S": "sku-1"}}, ConsistentRead=True
    )["Item"]
    assert int(stock["stock"]["N"]) == 3
    order_rows = dynamodb.scan(TableName=orders["OrdersTableName"])["Items"]
    assert [row["order_id"]["S"] for row in order_rows] == ["o-1"]
    # AND the order's charge reached the ledger once (two deliveries, one charge)
    charges = ledger_balances(dynamodb, ledger["LedgerTableName"])
    assert charges[("customer-1", "EUR")] == (-500, 1)

    dead = _dead_letters(sqs, ledger["DeadLetterQueueUrl"])
    assert [json.loads(m["Body"]) for m in dead] == [INVALID]
    assert "exactly_once.reason" in dead[0]["MessageAttributes"]
