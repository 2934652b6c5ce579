"""Downstream messages: sent after the commit and before the acknowledgement, again on
every duplicate, never for a refused message; two stages stay exactly-once end to end."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from moto import mock_aws

from exactly_once import Downstream, Setup
from exactly_once_local.moto_resources import (
    REGION,
    ConsumerResources,
    create_consumer_resources,
    outcomes_of,
)
from ledger.bootstrap import ledger_effect
from orders.effect import CHARGES_QUEUE_ENV, INVENTORY_TABLE_ENV, ORDERS_TABLE_ENV, OrdersEffect
from orders.model import Order
from pipeline.verdict import ledger_balances

pytestmark = pytest.mark.usefixtures("aws")
UNIT_PRICE_CENTS = 250


class ChargingOrders(OrdersEffect):
    """The orders consumer as the orders stack wires it: its charges go to the ledger."""

    def __init__(self, setup: Setup) -> None:
        effect = OrdersEffect.from_setup(setup)
        super().__init__(
            inventory_table=effect.inventory_table,
            orders_table=effect.orders_table,
            charges_queue_url=effect.charges_queue_url,
        )

    @property
    def ledger_queue_url(self) -> str:
        assert self.charges_queue_url is not None
        return self.charges_queue_url


class RandomIds(ChargingOrders):
    def downstream(self, order: Order) -> list[Downstream]:
        return [Downstream(self.ledger_queue_url, {"transaction_id": str(uuid.uuid4())})]


def two_stages() -> tuple[ConsumerResources, ConsumerResources]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    ledger = create_consumer_resources(
        dynamodb, sqs, key_prefix="ledger-v1", key_path="transaction_id"
    )
    ledger.table("ledger", "account_id", "currency", env="LEDGER_TABLE_NAME")
    orders = create_consumer_resources(dynamodb, sqs, key_prefix="orders-v1", key_path="order_id")
    orders.table("inventory", "sku", env=INVENTORY_TABLE_ENV)
    orders.table("orders", "order_id", env=ORDERS_TABLE_ENV)
    orders.environment[CHARGES_QUEUE_ENV] = ledger.queue_url
    dynamodb.put_item(
        TableName=orders.tables["inventory"], Item={"sku": {"S": "s"}, "stock": {"N": "5"}}
    )
    return orders, ledger


def sent_to(resources: ConsumerResources) -> list[str]:
    """Drain the stage's source queue: the bodies sent to it."""
    bodies: list[str] = []
    while True:
        batch = resources.sqs.receive_message(
            QueueUrl=resources.queue_url, MaxNumberOfMessages=10
        ).get("Messages", [])
        if not batch:
            return bodies
        for message in batch:
            bodies.append(message["Body"])
            resources.sqs.delete_message(
                QueueUrl=resources.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )


def order(order_id: str, quantity: int = 1) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "sku": "s",
        "quantity": quantity,
        "customer_id": "customer-1",
        "unit_price_cents": UNIT_PRICE_CENTS,
    }


def test_an_accepted_order_sends_its_charge_and_sends_it_again_when_redelivered() -> None:
    with mock_aws():
        orders, ledger = two_stages()
        handler = orders.handler(ChargingOrders)
        orders.deliver(handler, order("o-1", 2))
        orders.deliver(handler, order("o-1", 2))  # the ack was lost: a duplicate
        assert sorted(outcomes_of(handler).values()) == ["duplicate"]
        charges = [json.loads(body) for body in sent_to(ledger)]
        # THEN the same charge twice: the ledger absorbs the repeat by its transaction id
        assert charges == [charges[0], charges[0]]
        assert charges[0]["transaction_id"] == "order:o-1" and charges[0]["amount"] == "-5.00"


def test_a_refused_or_invalid_order_sends_nothing() -> None:
    with mock_aws():
        orders, ledger = two_stages()
        handler = orders.handler(ChargingOrders)
        orders.deliver(handler, order("o-big", 50), "not json")
        assert sorted(outcomes_of(handler).values()) == ["invalid", "refused"]
        assert sent_to(ledger) == []


def test_a_failed_send_fails_the_order_and_its_redelivery_sends_it() -> None:
    with mock_aws():
        orders, ledger = two_stages()
        handler = orders.handler(ChargingOrders, CHARGES_QUEUE_URL=ledger.queue_url + "-gone")
        response = orders.deliver(handler, order("o-1"))
        # THEN the order's effect is committed but it is not acknowledged
        [failed] = response["batchItemFailures"]
        assert "downstream send failed" in handler.last_decisions[failed["itemIdentifier"]].reason
        assert len(orders.items("orders")) == 1
        # WHEN it comes back (a duplicate now) with the queue reachable
        fixed = orders.handler(ChargingOrders)
        assert orders.deliver(fixed, order("o-1")) == {"batchItemFailures": []}
        assert [json.loads(b)["transaction_id"] for b in sent_to(ledger)] == ["order:o-1"]


def test_downstream_messages_that_change_between_calls_are_not_sent() -> None:
    with mock_aws():
        orders, ledger = two_stages()
        handler = orders.handler(RandomIds)
        response = orders.deliver(handler, order("o-1"))
        [failed] = response["batchItemFailures"]
        assert "differ between two calls" in handler.last_decisions[failed["itemIdentifier"]].reason
        assert sent_to(ledger) == []


def test_two_stages_charge_every_accepted_order_exactly_once_through_redeliveries() -> None:
    with mock_aws():
        # GIVEN 5 in stock and orders for 1, 2, 3 and 1: the third does not fit
        orders, ledger = two_stages()
        orders_handler = orders.handler(ChargingOrders)
        ledger_handler = ledger.handler(ledger_effect)
        batch = [order("o-1", 1), order("o-2", 2), order("o-3", 3), order("o-4", 1)]
        # WHEN every order is delivered twice, and every charge the ledger receives twice
        orders.deliver(orders_handler, *batch)
        orders.deliver(orders_handler, *reversed(batch))
        charges = sent_to(ledger)
        ledger.deliver(ledger_handler, *charges)
        ledger.deliver(ledger_handler, *charges)
        # THEN each accepted order is charged once, the refused one never
        assert ledger_balances(ledger.dynamodb, ledger.tables["ledger"]) == {
            ("customer-1", "EUR"): (-(1 + 2 + 1) * UNIT_PRICE_CENTS, 3)
        }
        refused = {letter.document()["order_id"] for letter in orders.dead_letters()}
        assert refused == {"o-3"}


class DecimalCharge(ChargingOrders):
    """A bug: a Decimal in the body, which JSON cannot encode."""

    def downstream(self, order: Order) -> list[Downstream]:
        from decimal import Decimal

        if order.order_id == "o-bad":
            return [Downstream(self.ledger_queue_url, {"amount": Decimal("2.50")})]
        return super().downstream(order)


def test_a_broken_downstream_hook_fails_its_message_before_its_effect() -> None:
    with mock_aws():
        orders, ledger = two_stages()
        handler = orders.handler(DecimalCharge)
        response = orders.deliver(handler, order("o-1"), order("o-bad"), order("o-2"))
        # THEN only o-bad is retried, with nothing applied for it; the others went through
        [failed] = response["batchItemFailures"]
        assert "could not be built" in handler.last_decisions[failed["itemIdentifier"]].reason
        assert {i["order_id"]["S"] for i in orders.items("orders")} == {"o-1", "o-2"}
        assert len(sent_to(ledger)) == 2


class BigCharges(ChargingOrders):
    def downstream(self, order: Order) -> list[Downstream]:
        charge = super().downstream(order)[0]
        return [Downstream(charge.queue_url, {**dict(charge.body), "note": "x" * 200_000})]


def test_downstream_batches_stay_within_sqs_total_size() -> None:
    with mock_aws():
        orders, ledger = two_stages()
        orders.dynamodb.put_item(
            TableName=orders.tables["inventory"], Item={"sku": {"S": "s"}, "stock": {"N": "50"}}
        )
        handler = orders.handler(BigCharges)
        # WHEN six orders each send a 200 KB charge (1.2 MB together, over SQS's 1 MiB batch)
        response = orders.deliver(handler, *[order(f"o-{i}") for i in range(6)])
        # THEN they go in batches that fit, and all six arrive
        assert response == {"batchItemFailures": []}
        assert len(sent_to(ledger)) == 6


def test_charges_to_a_fifo_ledger_carry_a_group_and_the_charge_key_as_deduplication_id() -> None:
    from orders.effect import charge_of
    from orders.model import parse_order

    effect = OrdersEffect(
        inventory_table="inventory",
        orders_table="orders",
        charges_queue_url="https://sqs.eu-west-1.amazonaws.com/1/ledger.fifo",
    )
    placed = parse_order(order("o-1", 2), priced=True)
    [charge] = effect.downstream(placed)
    assert charge.group_id == "customer-1"
    assert charge.deduplication_id == "order:o-1"
    assert charge.body == charge_of(placed)
    # the same order makes the same message, every time
    assert effect.downstream(placed) == [charge]
