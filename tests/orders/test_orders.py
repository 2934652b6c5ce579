"""The orders consumer's tests: written as a user of the package writes them.

Only the installed distribution is used (``exactly_once`` and the pytest plugin's
fixtures), no conftest and nothing else of this repository, so the same file runs against
the built wheel in a fresh virtual environment (tests/package/test_wheel.py).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from orders.effect import INVENTORY_TABLE_ENV, ORDERS_TABLE_ENV, OrdersEffect


def orders_consumer(aws: Any) -> Any:
    """The orders consumer's queues, idempotency table, inventory and orders tables."""
    resources = aws.consumer(key_prefix="orders-v1", key_path="order_id")
    resources.table("inventory", "sku", env=INVENTORY_TABLE_ENV)
    resources.table("orders", "order_id", env=ORDERS_TABLE_ENV)
    return resources


@pytest.fixture
def orders(exactly_once_aws: Any) -> Any:
    return orders_consumer(exactly_once_aws)


def restock(orders: Any, **levels: int) -> None:
    for sku, level in levels.items():
        orders.dynamodb.put_item(
            TableName=orders.tables["inventory"],
            Item={"sku": {"S": sku}, "stock": {"N": str(level)}},
        )


def stock(orders: Any) -> dict[str, int]:
    return {i["sku"]["S"]: int(i["stock"]["N"]) for i in orders.items("inventory")}


def accepted(orders: Any) -> dict[str, int]:
    return {i["order_id"]["S"]: int(i["quantity"]["N"]) for i in orders.items("orders")}


def order(order_id: str, sku: str = "sku-1", quantity: int = 1) -> dict[str, Any]:
    return {"order_id": order_id, "sku": sku, "quantity": quantity}


def outcomes(handler: Any) -> list[str]:
    return sorted(d.outcome.value for d in handler.last_decisions.values())


def test_an_order_takes_its_stock_once_however_often_it_is_delivered(
    orders: Any, manual_clock: Any
) -> None:
    # GIVEN 10 in stock
    restock(orders, **{"sku-1": 10})
    handler = orders.handler(OrdersEffect.from_setup, clock=manual_clock)
    # WHEN an order for 3 is delivered, then delivered again (a lost acknowledgement)
    first = orders.deliver(handler, order("o-1", quantity=3), clock=manual_clock)
    manual_clock.advance(60)
    second = orders.deliver(handler, order("o-1", quantity=3), clock=manual_clock)
    # THEN the stock is taken once and the order written once
    assert first == second == {"batchItemFailures": []}
    assert outcomes(handler) == ["duplicate"]
    assert stock(orders) == {"sku-1": 7}
    assert accepted(orders) == {"o-1": 3}


def test_an_order_beyond_the_stock_is_refused_to_the_dlq_with_its_reason(orders: Any) -> None:
    # GIVEN 2 in stock
    restock(orders, **{"sku-1": 2})
    handler = orders.handler(OrdersEffect.from_setup)
    # WHEN an order for 5 arrives beside one for 1
    response = orders.deliver(handler, order("o-big", quantity=5), order("o-small"))
    # THEN the big one is dead-lettered at once with the reason; the small one is applied
    assert response == {"batchItemFailures": []}
    [letter] = orders.dead_letters()
    assert letter.document()["order_id"] == "o-big"
    assert (letter.outcome, letter.reason) == (
        "refused",
        "out of stock: fewer than 5 of sku-1 left",
    )
    assert stock(orders) == {"sku-1": 1}
    assert accepted(orders) == {"o-small": 1}


def test_a_refused_order_redriven_after_a_restock_is_applied(orders: Any) -> None:
    restock(orders, **{"sku-1": 0})
    handler = orders.handler(OrdersEffect.from_setup)
    orders.deliver(handler, order("o-1", quantity=2))
    assert outcomes(handler) == ["refused"]
    # WHEN stock arrives and the dead letter is sent back (a new message id, same body)
    restock(orders, **{"sku-1": 5})
    orders.deliver(handler, orders.dead_letters()[0].body)
    # THEN it is evaluated again and applied
    assert outcomes(handler) == ["processed"]
    assert stock(orders) == {"sku-1": 3}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "body is not JSON"),
        ('{"order_id": "o-1", "sku": "s", "quantity": 0}', "quantity"),
        ('{"order_id": "o-1", "sku": "s", "quantity": "2"}', "quantity"),
        ('{"sku": "s", "quantity": 1}', "idempotency key missing"),
    ],
)
def test_an_invalid_order_is_dead_lettered_with_the_field_at_fault(
    orders: Any, body: str, reason: str
) -> None:
    handler = orders.handler(OrdersEffect.from_setup)
    assert orders.deliver(handler, body) == {"batchItemFailures": []}
    [letter] = orders.dead_letters()
    assert letter.outcome == "invalid" and reason in str(letter.reason)
    assert letter.body == body


def test_the_same_order_id_with_another_quantity_is_a_conflict_not_a_second_order(
    orders: Any,
) -> None:
    restock(orders, **{"sku-1": 10})
    handler = orders.handler(OrdersEffect.from_setup)
    orders.deliver(handler, order("o-1", quantity=1))
    orders.deliver(handler, order("o-1", quantity=4))
    assert outcomes(handler) == ["conflict"]
    assert stock(orders) == {"sku-1": 9}
    assert [letter.outcome for letter in orders.dead_letters()] == ["conflict"]


def test_random_batches_delivered_twice_never_oversell_and_apply_each_order_once(
    orders: Any,
) -> None:
    # GIVEN little stock over a few SKUs and many orders, in random batches of up to 10
    rng = random.Random(7)
    initial = {f"sku-{i}": rng.randint(0, 12) for i in range(4)}
    restock(orders, **initial)
    handler = orders.handler(OrdersEffect.from_setup)
    sent = [order(f"o-{i}", rng.choice(list(initial)), rng.randint(1, 4)) for i in range(60)]
    # WHEN every batch is delivered twice (the second time in another order)
    for start in range(0, len(sent), 10):
        batch = sent[start : start + 10]
        assert orders.deliver(handler, *batch) == {"batchItemFailures": []}
        assert orders.deliver(handler, *rng.sample(batch, len(batch))) == {"batchItemFailures": []}
    # THEN no stock is negative, every accepted order took its quantity once, and every
    # other order is in the DLQ, refused (once per delivery: nothing was recorded for it,
    # so a redrive is evaluated again, and a second copy is then a duplicate)
    left = stock(orders)
    assert all(level >= 0 for level in left.values())
    taken = accepted(orders)
    for sku, level in initial.items():
        ordered = sum(o["quantity"] for o in sent if o["sku"] == sku and o["order_id"] in taken)
        assert left[sku] == level - ordered
    letters = orders.dead_letters()
    assert {letter.outcome for letter in letters} == {"refused"}
    refused = {letter.document()["order_id"] for letter in letters}
    assert refused == {o["order_id"] for o in sent if o["order_id"] not in taken}
    assert 0 < len(taken) < len(sent)


def test_every_order_is_applied_exactly_once_through_duplicates_and_crashes(
    exactly_once_aws: Any, exactly_once_check: Any
) -> None:
    # GIVEN a batch mixing orders that fit, one that does not, and two on one SKU
    def fresh() -> Any:
        resources = orders_consumer(exactly_once_aws)
        restock(resources, **{"sku-1": 5, "sku-2": 1, "sku-3": 0})
        return resources

    batch = [
        order("o-1", "sku-1", 2),
        order("o-2", "sku-2", 1),
        order("o-3", "sku-3", 1),
        order("o-4", "sku-1", 3),
    ]
    # WHEN the checker delivers it twice, and crashes it at every DynamoDB call boundary
    report = exactly_once_check(
        fresh=fresh,
        bodies=batch,
        observe=lambda r: (stock(r), accepted(r)),
        effect=OrdersEffect.from_setup,
    )
    # THEN each world ends as one clean delivery does
    report.assert_ok()
    assert report.reference == (
        {"sku-1": 0, "sku-2": 0, "sku-3": 0},
        {"o-1": 2, "o-2": 1, "o-4": 3},
    )
    assert len(report.scenarios) == 1 + 2 * len(report.calls)
