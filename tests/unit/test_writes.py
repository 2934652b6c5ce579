"""Effect writes merged per item, each merged item knowing the messages it carries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exactly_once.writes import Add, PutIfAbsent, Take, TransactItem, plan


def test_adds_and_takes_on_one_item_become_one_update_with_the_summed_condition() -> None:
    # GIVEN two takes and an add on one SKU, and a take on another
    planned = plan(
        [
            [Take("inv", {"sku": "a"}, "stock", 3, refusal="short of a")],
            [Take("inv", {"sku": "a"}, "stock", 2)],
            [Add("inv", {"sku": "a"}, {"sold": 1})],
            [Take("inv", {"sku": "b"}, "stock", Decimal("1.5"))],
        ]
    )
    # THEN one update per item: deltas summed, the condition covers every take
    a, b = (p.item["Update"] for p in planned)
    assert a["Key"] == {"sku": {"S": "a"}}
    assert a["UpdateExpression"] == "ADD #a0 :a0, #a1 :a1"
    assert a["ExpressionAttributeValues"][":a0"] == {"N": "-5"}
    assert a["ExpressionAttributeValues"][":a1"] == {"N": "1"}
    assert a["ConditionExpression"] == "#a0 >= :n0"
    assert a["ExpressionAttributeValues"][":n0"] == {"N": "5"}
    assert b["ExpressionAttributeValues"][":n0"] == {"N": "1.5"}
    # AND each knows its messages and the reason each would be refused with
    assert planned[0].sources == (0, 1, 2)
    assert planned[0].refusals == {0: "short of a", 1: "stock in inv would go below zero"}
    assert planned[1].sources == (3,)


def test_put_if_absent_and_transact_items_are_never_merged() -> None:
    planned = plan(
        [
            [PutIfAbsent("orders", {"order_id": "o-1"}, {"qty": 2})],
            [PutIfAbsent("orders", {"order_id": "o-1"}, {"qty": 3}, refusal="taken")],
            [TransactItem({"ConditionCheck": {"TableName": "t"}}, refusal="no")],
        ]
    )
    assert [p.sources for p in planned] == [(0,), (1,), (2,)]
    put = planned[0].item["Put"]
    assert put["Item"] == {"order_id": {"S": "o-1"}, "qty": {"N": "2"}}
    assert put["ConditionExpression"] == "attribute_not_exists(#k)"
    assert put["ExpressionAttributeNames"] == {"#k": "order_id"}
    assert planned[1].refusals == {1: "taken"}
    assert planned[2].refusals == {2: "no"}


def test_a_negative_take_and_a_float_are_refused_at_once() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        Take("inv", {"sku": "a"}, "stock", -1)
    with pytest.raises(TypeError):
        plan([[Add("inv", {"sku": "a"}, {"stock": 1.5})]])  # type: ignore[dict-item]


def test_initial_attributes_are_set_once_the_first_message_value_standing() -> None:
    # GIVEN two adds to one balance, each naming the currency's exponent
    planned = plan(
        [
            [Add("ledger", {"id": "a"}, {"balance": 5}, initial={"exponent": 2})],
            [Add("ledger", {"id": "a"}, {"balance": -3}, initial={"exponent": 3})],
        ]
    )
    # THEN one update: the sum added, the exponent set only if absent, the first's value
    [update] = (p.item["Update"] for p in planned)
    assert update["UpdateExpression"] == "ADD #a0 :a0 SET #s0 = if_not_exists(#s0, :s0)"
    assert update["ExpressionAttributeNames"] == {"#a0": "balance", "#s0": "exponent"}
    assert update["ExpressionAttributeValues"][":a0"] == {"N": "2"}
    assert update["ExpressionAttributeValues"][":s0"] == {"N": "2"}


def test_an_attribute_both_added_and_initial_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="initial names attributes it adds to"):
        Add("ledger", {"id": "a"}, {"balance": 1}, initial={"balance": 0})
