"""The two-stage oracle fails each way the chain can go wrong (the tables written by hand)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from exactly_once.keys import KeySpec
from pipeline.chain import OrderSent, OrdersWorkload, judge_chain

REGION = "eu-west-1"
KEY = KeySpec(prefix="ledger-v1", path="transaction_id")


def _order(order_id: str, quantity: int, cents: int) -> OrderSent:
    body = {
        "order_id": order_id,
        "sku": "sku-1",
        "quantity": quantity,
        "customer_id": "c-1",
        "unit_price_cents": cents // quantity,
    }
    return OrderSent(json.dumps(body), "original", order_id, "sku-1", quantity, "c-1", cents)


class Chain:
    """Both stages' tables and DLQs on moto, and a workload of two orders: 2 and 3 units of
    sku-1 (stock 4), at 500 and 900 cents."""

    def __init__(self) -> None:
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.orders_out = {
            "InventoryTableName": self._table("inventory", "sku"),
            "OrdersTableName": self._table("orders", "order_id"),
            "DeadLetterQueueUrl": self.sqs.create_queue(QueueName="orders-dlq")["QueueUrl"],
        }
        self.ledger_out = {
            "IdempotencyTableName": self._table("ledger-records", "id"),
            "LedgerTableName": self._table("ledger", "account_id", "currency"),
            "DeadLetterQueueUrl": self.sqs.create_queue(QueueName="ledger-dlq")["QueueUrl"],
        }
        self.a, self.b = _order("o-a", 2, 500), _order("o-b", 3, 900)
        self.workload = OrdersWorkload(waves=[[self.a, self.b]], stock={"sku-1": 4})

    def _table(self, name: str, *keys: str) -> str:
        self.dynamodb.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": k, "KeyType": t}
                for k, t in zip(keys, ("HASH", "RANGE"), strict=False)
            ],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            BillingMode="PAY_PER_REQUEST",
        )
        return name

    def accept(self, sent: OrderSent, *, stock_left: int) -> None:
        self.dynamodb.put_item(
            TableName=self.orders_out["OrdersTableName"],
            Item={
                "order_id": {"S": str(sent.order_id)},
                "sku": {"S": "sku-1"},
                "quantity": {"N": str(sent.quantity)},
                "customer_id": {"S": "c-1"},
                "charge_cents": {"N": str(sent.charge_cents)},
            },
        )
        self.stock(stock_left)

    def stock(self, units: int) -> None:
        self.dynamodb.put_item(
            TableName=self.orders_out["InventoryTableName"],
            Item={"sku": {"S": "sku-1"}, "stock": {"N": str(units)}},
        )

    def refuse(self, sent: OrderSent) -> None:
        self.sqs.send_message(
            QueueUrl=self.orders_out["DeadLetterQueueUrl"],
            MessageBody=sent.body,
            MessageAttributes={
                "exactly_once.reason": {
                    "DataType": "String",
                    "StringValue": f"out of stock: fewer than {sent.quantity} of sku-1 left",
                }
            },
        )

    def charge(self, sent: OrderSent, *, times: int = 1) -> None:
        self.dynamodb.put_item(
            TableName=self.ledger_out["IdempotencyTableName"],
            Item={
                "id": {"S": KEY.record_id(f"order:{sent.order_id}")},
                "status": {"S": "COMPLETED"},
            },
        )
        self.dynamodb.update_item(
            TableName=self.ledger_out["LedgerTableName"],
            Key={"account_id": {"S": "c-1"}, "currency": {"S": "EUR"}},
            UpdateExpression="ADD balance_minor :b, transaction_count :n",
            ExpressionAttributeValues={
                ":b": {"N": str(-sent.charge_cents * times)},
                ":n": {"N": str(times)},
            },
        )

    def problems(self) -> dict[str, list[str]]:
        verdict = judge_chain(
            self.workload,
            self.dynamodb,
            self.sqs,
            self.orders_out,
            self.ledger_out,
            ledger_key_prefix="ledger-v1",
        )
        return verdict.problems


@pytest.fixture
def chain() -> Any:
    with mock_aws():
        yield Chain()


def test_a_consistent_end_state_passes(chain: Chain) -> None:
    # a (2 units) accepted and charged once; b (3 units) refused with 2 left, never charged
    chain.accept(chain.a, stock_left=2)
    chain.refuse(chain.b)
    chain.charge(chain.a)
    assert chain.problems() == {}


def test_a_charge_applied_twice_fails(chain: Chain) -> None:
    chain.accept(chain.a, stock_left=2)
    chain.refuse(chain.b)
    chain.charge(chain.a, times=2)
    assert "charged twice" in chain.problems()


def test_a_refused_order_that_was_charged_fails(chain: Chain) -> None:
    chain.accept(chain.a, stock_left=2)
    chain.refuse(chain.b)
    chain.charge(chain.a)
    chain.charge(chain.b)
    problems = chain.problems()
    assert "refused, yet charged" in problems and "charged twice" in problems


def test_stock_below_zero_fails(chain: Chain) -> None:
    # both accepted: 5 units taken from 4
    chain.accept(chain.a, stock_left=-1)
    chain.accept(chain.b, stock_left=-1)
    chain.charge(chain.a)
    chain.charge(chain.b)
    assert chain.problems() == {"negative stock": ["sku-1: -1"]}


def test_stock_out_of_step_with_the_accepted_orders_fails(chain: Chain) -> None:
    # a took 2 units, yet 3 are gone
    chain.accept(chain.a, stock_left=1)
    chain.refuse(chain.b)
    chain.charge(chain.a)
    assert list(chain.problems()) == ["stock and accepted orders disagree"]


def test_an_order_neither_accepted_nor_refused_is_lost(chain: Chain) -> None:
    chain.accept(chain.a, stock_left=2)
    chain.charge(chain.a)
    assert chain.problems() == {"lost order (neither accepted nor refused)": ["o-b"]}


def test_a_refusal_with_stock_enough_fails(chain: Chain) -> None:
    chain.stock(4)
    chain.refuse(chain.a)
    chain.refuse(chain.b)
    assert "refused with stock left" in chain.problems()


def test_a_charge_of_the_wrong_amount_fails(chain: Chain) -> None:
    chain.accept(chain.a, stock_left=2)
    chain.refuse(chain.b)
    chain.charge(chain.a)
    chain.dynamodb.update_item(
        TableName=chain.ledger_out["LedgerTableName"],
        Key={"account_id": {"S": "c-1"}, "currency": {"S": "EUR"}},
        UpdateExpression="ADD balance_minor :b",
        ExpressionAttributeValues={":b": {"N": "-1"}},
    )
    assert list(chain.problems()) == ["wrong balance"]


def test_a_charge_left_in_the_ledgers_dlq_fails(chain: Chain) -> None:
    chain.accept(chain.a, stock_left=2)
    chain.refuse(chain.b)
    chain.charge(chain.a)
    chain.sqs.send_message(QueueUrl=chain.ledger_out["DeadLetterQueueUrl"], MessageBody="{}")
    assert list(chain.problems()) == ["charge in the ledger's DLQ"]


def test_an_invalid_order_missing_from_the_dlq_fails(chain: Chain) -> None:
    chain.workload.waves[0].append(OrderSent("not json", "invalid"))
    chain.accept(chain.a, stock_left=2)
    chain.refuse(chain.b)
    chain.charge(chain.a)
    assert list(chain.problems()) == ["invalid orders missing from the DLQ"]


def test_an_order_row_unlike_the_order_sent_fails(chain: Chain) -> None:
    chain.accept(chain.a, stock_left=2)
    chain.refuse(chain.b)
    chain.charge(chain.a)
    chain.dynamodb.update_item(
        TableName=chain.orders_out["OrdersTableName"],
        Key={"order_id": {"S": "o-a"}},
        UpdateExpression="SET quantity = :q",
        ExpressionAttributeValues={":q": {"N": "1"}},
    )
    assert "order row differs from the order sent" in chain.problems()
