"""Per-message refusals: an effect says no to one message, and only that message.

A refused message goes to the DLQ at once with ``exactly_once.outcome`` = refused and its
reason, writes no COMPLETED record (a redrive after the cause is fixed is evaluated
again), and never takes another message of its batch with it, in either mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from exactly_once import Add, ManualClock, Refused, Setup, Take, TransactItem
from exactly_once_local.moto_resources import (
    REGION,
    ConsumerResources,
    create_consumer_resources,
    failed_ids,
    outcomes_of,
)
from ledger.bootstrap import ledger_effect
from ledger.model import LedgerTransaction, parse_transaction
from orders.effect import INVENTORY_TABLE_ENV, ORDERS_TABLE_ENV, OrdersEffect

pytestmark = pytest.mark.usefixtures("aws")


@dataclass
class RequestCounter:
    """DynamoDB requests the consumer's client sends, by operation."""

    calls: list[str] = field(default_factory=list)

    def attach(self, client: Any) -> Any:
        client.meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: self.calls.append(model.name)
        )
        return client


@pytest.fixture
def orders() -> Iterator[ConsumerResources]:
    with mock_aws():
        yield orders_resources()


def orders_resources(*, fifo: bool = False, mode: str = "atomic") -> ConsumerResources:
    resources = create_consumer_resources(
        boto3.client("dynamodb", region_name=REGION),
        boto3.client("sqs", region_name=REGION),
        key_prefix="orders-v1",
        key_path="order_id",
        fifo=fifo,
        mode=mode,
    )
    resources.table("inventory", "sku", env=INVENTORY_TABLE_ENV)
    resources.table("orders", "order_id", env=ORDERS_TABLE_ENV)
    return resources


def ledger_resources(mode: str = "atomic") -> ConsumerResources:
    """The ledger's queues, idempotency table and balances (``tables["ledger"]``)."""
    resources = create_consumer_resources(
        boto3.client("dynamodb", region_name=REGION),
        boto3.client("sqs", region_name=REGION),
        key_prefix="ledger-v1",
        key_path="transaction_id",
        mode=mode,
    )
    resources.table("ledger", "account_id", "currency", env="LEDGER_TABLE_NAME")
    return resources


def ledger_transactions(*pairs: tuple[str, str], amount: str = "1.00") -> list[dict[str, Any]]:
    """Ledger bodies for (transaction id, account) pairs, in EUR."""
    return [
        {"transaction_id": t, "account_id": a, "amount": amount, "currency": "EUR"}
        for t, a in pairs
    ]


def stock(resources: ConsumerResources, **levels: int) -> None:
    for sku, level in levels.items():
        resources.dynamodb.put_item(
            TableName=resources.tables["inventory"],
            Item={"sku": {"S": sku}, "stock": {"N": str(level)}},
        )


def stock_of(resources: ConsumerResources, sku: str) -> int:
    item = resources.dynamodb.get_item(
        TableName=resources.tables["inventory"], Key={"sku": {"S": sku}}, ConsistentRead=True
    )["Item"]
    return int(item["stock"]["N"])


def order(order_id: str, sku: str, quantity: int = 1) -> dict[str, Any]:
    return {"order_id": order_id, "sku": sku, "quantity": quantity}


def accepted(resources: ConsumerResources) -> set[str]:
    return {item["order_id"]["S"] for item in resources.items("orders")}


def refused_reasons(resources: ConsumerResources) -> dict[str, str]:
    return {
        str(letter.document()["order_id"]): str(letter.reason)
        for letter in resources.dead_letters()
        if letter.outcome == "refused"
    }


def test_one_out_of_stock_order_is_refused_alone_and_nine_commit_in_two_requests(
    orders: ConsumerResources,
) -> None:
    # GIVEN ten orders of ten SKUs, one of them out of stock
    stock(orders, **{f"sku-{i}": 5 for i in range(10)})
    stock(orders, **{"sku-3": 0})
    counter = RequestCounter()
    handler = orders.handler(OrdersEffect.from_setup)
    counter.attach(orders.dynamodb)
    # WHEN they arrive in one batch
    response = orders.deliver(handler, *[order(f"o-{i}", f"sku-{i}", 2) for i in range(10)])
    requests = list(counter.calls)
    # THEN the nine commit, the tenth is dead-lettered with its reason, nothing is retried
    assert response == {"batchItemFailures": []}
    assert accepted(orders) == {f"o-{i}" for i in range(10)} - {"o-3"}
    assert refused_reasons(orders) == {"o-3": "out of stock: fewer than 2 of sku-3 left"}
    assert stock_of(orders, "sku-3") == 0 and stock_of(orders, "sku-0") == 3
    # ... in two DynamoDB requests: the cancelled transaction, then the nine
    assert requests == ["TransactWriteItems", "TransactWriteItems"]
    # ... and the refused order has no record, so it can be evaluated again
    assert len(orders.items(orders.idempotency_table)) == 9


def test_a_refused_order_is_evaluated_again_when_redriven_after_a_restock(
    orders: ConsumerResources,
) -> None:
    # GIVEN an order refused for lack of stock
    stock(orders, **{"sku-1": 1})
    handler = orders.handler(OrdersEffect.from_setup)
    orders.deliver(handler, order("o-1", "sku-1", 3))
    assert outcomes_of(handler) and set(outcomes_of(handler).values()) == {"refused"}
    # WHEN the SKU is restocked and the order comes back from the DLQ (a new message id)
    stock(orders, **{"sku-1": 10})
    orders.deliver(handler, order("o-1", "sku-1", 3))
    # THEN it is processed this time, once
    assert set(outcomes_of(handler).values()) == {"processed"}
    assert accepted(orders) == {"o-1"} and stock_of(orders, "sku-1") == 7


def test_merged_takes_on_one_sku_refuse_only_the_order_that_does_not_fit(
    orders: ConsumerResources,
) -> None:
    # GIVEN 5 in stock and three orders of the same SKU (3, 3, 2): one write, merged
    stock(orders, **{"sku-1": 5})
    handler = orders.handler(OrdersEffect.from_setup)
    # WHEN they arrive in one batch
    response = orders.deliver(
        handler, order("o-1", "sku-1", 3), order("o-2", "sku-1", 3), order("o-3", "sku-1", 2)
    )
    # THEN the layer finds the one at fault: first come, first served; stock never negative
    assert response == {"batchItemFailures": []}
    assert accepted(orders) == {"o-1", "o-3"}
    assert set(refused_reasons(orders)) == {"o-2"}
    assert stock_of(orders, "sku-1") == 0


def test_a_write_dynamodb_refuses_as_invalid_is_isolated_to_its_message(
    orders: ConsumerResources,
) -> None:
    # GIVEN an inventory item whose stock is a string: DynamoDB refuses to subtract from it
    stock(orders, **{"sku-1": 5, "sku-2": 5})
    orders.dynamodb.put_item(
        TableName=orders.tables["inventory"],
        Item={"sku": {"S": "sku-bad"}, "stock": {"S": "plenty"}},
    )
    handler = orders.handler(OrdersEffect.from_setup)
    # WHEN an order for it arrives between two good ones
    response = orders.deliver(
        handler, order("o-1", "sku-1"), order("o-bad", "sku-bad"), order("o-2", "sku-2")
    )
    # THEN only it is dead-lettered, at once, with DynamoDB's reason; no retry is wasted
    assert response == {"batchItemFailures": []}
    assert accepted(orders) == {"o-1", "o-2"}
    reasons = refused_reasons(orders)
    assert set(reasons) == {"o-bad"}
    # (moto reports the comparison of a string with a number as its own error code)
    assert reasons["o-bad"].startswith("DynamoDB refused the write to inventory-")


def test_merged_ledger_adds_to_a_broken_balance_refuse_exactly_the_messages_on_it() -> None:
    with mock_aws():
        # GIVEN a ledger whose balance for account "broken" is not a number
        ledger = ledger_resources()
        table = ledger.tables["ledger"]
        ledger.dynamodb.put_item(
            TableName=table,
            Item={
                "account_id": {"S": "broken"},
                "currency": {"S": "EUR"},
                "balance_minor": {"S": "oops"},
            },
        )
        handler = ledger.handler(ledger_effect)
        bodies = ledger_transactions(("t1", "ok"), ("t2", "broken"), ("t3", "ok"), ("t4", "broken"))
        # WHEN two transactions for it and two for a good account share a batch (merged
        # into one ADD per balance)
        response = ledger.deliver(handler, *bodies)
        # THEN the two on the broken balance are refused, the two others applied
        assert response == {"batchItemFailures": []}
        letters = ledger.dead_letters()
        assert {letter.document()["transaction_id"] for letter in letters} == {"t2", "t4"}
        # (moto reports the bound check on a string as its own error code; AWS as a failed
        # condition: either way those two messages, and only they, are refused)
        assert all(
            str(letter.reason).startswith("DynamoDB refused the write to ledger-")
            for letter in letters
        )
        [ok] = [i for i in ledger.items("ledger") if i["account_id"]["S"] == "ok"]
        assert ok["balance_minor"]["N"] == "200" and ok["transaction_count"]["N"] == "2"


def test_a_fair_queue_batch_over_the_transaction_limit_is_split_by_queue_type() -> None:
    with mock_aws():
        # GIVEN a standard queue whose messages carry a MessageGroupId (SQS fair queues)
        resources = orders_resources()
        stock(resources, **{f"sku-{i}": 1 for i in range(80)})
        handler = resources.handler(OrdersEffect.from_setup)
        bodies = [order(f"o-{i}", f"sku-{i}") for i in range(80)]
        # WHEN 80 orders arrive in one batch: 80 records + 160 writes, over DynamoDB's 100
        response = resources.deliver(handler, *bodies, group_id="tenant-1")
        # THEN the batch is split into transactions that fit, and all of it is applied
        assert response == {"batchItemFailures": []}
        assert len(accepted(resources)) == 80


def test_fifo_a_refusal_does_not_hold_back_the_rest_of_its_group() -> None:
    with mock_aws():
        # GIVEN a FIFO queue and a group whose middle order is out of stock
        resources = orders_resources(fifo=True)
        stock(resources, **{"sku-1": 5, "sku-2": 0})
        handler = resources.handler(OrdersEffect.from_setup)
        # WHEN the group's three orders arrive in order
        response = resources.deliver(
            handler, order("o-1", "sku-1"), order("o-2", "sku-2"), order("o-3", "sku-1")
        )
        # THEN the refused one goes to the (FIFO) DLQ and the group goes on
        assert response == {"batchItemFailures": []}
        assert accepted(resources) == {"o-1", "o-3"}
        assert set(refused_reasons(resources)) == {"o-2"}


def test_the_same_refused_order_twice_in_a_batch_is_dead_lettered_once(
    orders: ConsumerResources,
) -> None:
    stock(orders, **{"sku-1": 0})
    handler = orders.handler(OrdersEffect.from_setup)
    response = orders.deliver(handler, order("o-1", "sku-1"), order("o-1", "sku-1"))
    assert response == {"batchItemFailures": []}
    assert sorted(outcomes_of(handler).values()) == ["duplicate", "refused"]
    assert len(orders.dead_letters()) == 1


class LimitedOrders(OrdersEffect):
    """Refuses from the message alone, before any write: no request is spent on it."""

    def writes(self, order: Any) -> list[Any]:
        if order.quantity > 5:
            raise Refused("quantity over the per-order limit of 5")
        return super().writes(order)


def test_an_effect_can_refuse_from_the_message_alone(orders: ConsumerResources) -> None:
    stock(orders, **{"sku-1": 100})
    handler = orders.handler(
        LimitedOrders(
            inventory_table=orders.tables["inventory"], orders_table=orders.tables["orders"]
        )
    )
    orders.deliver(handler, order("o-1", "sku-1", 9), order("o-2", "sku-1", 2))
    assert accepted(orders) == {"o-2"}
    assert refused_reasons(orders) == {"o-1": "quantity over the per-order limit of 5"}


class UnexplainedCancellations:
    """A DynamoDB client whose transactions are cancelled without a usable reason whenever
    they carry a write to ``poisoned`` (as AWS may answer: every reason "None")."""

    def __init__(self, client: Any, poisoned: str) -> None:
        self._client = client
        self._poisoned = poisoned
        self.transactions = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.transactions += 1
        items = kwargs["TransactItems"]
        if self._poisoned in str(items):
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": [{"Code": "None"} for _ in items],
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**kwargs)


def test_an_unexplained_cancellation_is_narrowed_before_anything_is_failed(
    orders: ConsumerResources,
) -> None:
    # GIVEN transactions touching sku-poison are cancelled with no usable reason
    stock(orders, **{f"sku-{i}": 5 for i in range(6)}, **{"sku-poison": 5})
    client = UnexplainedCancellations(orders.dynamodb, "sku-poison")
    handler = orders.handler(OrdersEffect.from_setup)
    handler._dynamodb = client  # the consumer's own client, as a fault would hit it
    bodies = [order(f"o-{i}", f"sku-{i}") for i in range(6)]
    bodies.insert(3, order("o-poison", "sku-poison"))
    # WHEN the batch arrives
    response = orders.deliver(handler, *bodies)
    # THEN the batch is split until the message at fault stands alone: the others commit,
    # and only it is retried (not refused: nothing says it is at fault for good)
    assert accepted(orders) == {f"o-{i}" for i in range(6)}
    [retried] = failed_ids(response)
    assert outcomes_of(handler)[retried] == "failed"
    assert "no reason given" in handler.last_decisions[retried].reason
    assert orders.dead_letters() == []


@dataclass
class DecliningProvider:
    """A payment provider that declines some accounts for good."""

    declined: set[str]
    charged: dict[str, int] = field(default_factory=dict)

    def charge(self, key: str, account_id: str, amount_cents: int) -> None:
        if account_id in self.declined:
            raise Refused(f"payment declined for account {account_id}")
        self.charged.setdefault(key, amount_cents)


@dataclass
class ChargeEffect:
    """Leased mode: a charge at an external provider, keyed by the record id."""

    provider: DecliningProvider

    def parse(self, document: dict[str, Any]) -> LedgerTransaction:
        return parse_transaction(document)

    def apply(self, message: LedgerTransaction, idempotency_key: str, attempt: int) -> None:
        self.provider.charge(idempotency_key, message.account_id, message.amount_minor)


def test_leased_a_declined_payment_is_dead_lettered_with_its_reason_and_can_be_redriven() -> None:
    with mock_aws():
        # GIVEN a leased consumer and a provider that declines account "b"
        resources = create_consumer_resources(
            boto3.client("dynamodb", region_name=REGION),
            boto3.client("sqs", region_name=REGION),
            key_prefix="charges-v1",
            key_path="transaction_id",
            mode="leased",
        )
        provider = DecliningProvider(declined={"b"})
        clock = ManualClock()
        handler = resources.handler(ChargeEffect(provider), clock=clock)
        bodies = [
            {"transaction_id": t, "account_id": a, "amount": "5.00", "currency": "EUR"}
            for t, a in [("t1", "a"), ("t2", "b"), ("t3", "c")]
        ]
        # WHEN the batch arrives
        response = resources.deliver(handler, *bodies, clock=clock)
        # THEN the declined one is dead-lettered at once with the reason; the others charged
        assert response == {"batchItemFailures": []}
        assert len(provider.charged) == 2
        [letter] = resources.dead_letters()
        assert letter.outcome == "refused"
        assert letter.reason == "payment declined for account b"
        # ... its lease is released, not completed: a redrive after the fix is charged
        provider.declined.clear()
        resources.deliver(handler, bodies[1], clock=clock)
        assert set(outcomes_of(handler).values()) == {"processed"}
        assert len(provider.charged) == 3


def test_a_fair_queue_refusal_reaches_its_standard_dlq_without_fifo_parameters() -> None:
    with mock_aws():
        # GIVEN a standard queue whose messages carry a group id, and a standard DLQ
        resources = orders_resources()
        stock(resources, **{"sku-1": 0})
        handler = resources.handler(OrdersEffect.from_setup)
        sent: list[dict[str, Any]] = []
        resources.sqs.meta.events.register(
            "before-parameter-build.sqs.SendMessageBatch",
            lambda params, **_: sent.extend(params["Entries"]),
        )
        # WHEN an order on it is refused
        response = resources.deliver(handler, order("o-1", "sku-1"), group_id="tenant-1")
        # THEN it is dead-lettered with its reason; the entry carries no FIFO-only parameter
        assert response == {"batchItemFailures": []}
        assert set(refused_reasons(resources)) == {"o-1"}
        assert [e.get("MessageDeduplicationId") for e in sent] == [None]
        assert [e.get("MessageGroupId") for e in sent] == [None]


def test_leased_the_ledger_refuses_a_balance_update_dynamodb_rejects_as_invalid() -> None:
    with mock_aws():
        # GIVEN the ledger in leased mode, and a transaction count that is not a number
        ledger = ledger_resources("leased")
        table = ledger.tables["ledger"]
        ledger.dynamodb.put_item(
            TableName=table,
            Item={
                "account_id": {"S": "broken"},
                "currency": {"S": "EUR"},
                "balance_minor": {"N": "0"},
                "transaction_count": {"S": "oops"},
            },
        )
        handler = ledger.handler(ledger_effect)
        bodies = ledger_transactions(("t1", "ok"), ("t2", "broken"))
        # WHEN a batch with a transaction on it arrives
        response = ledger.deliver(handler, *bodies)
        # THEN that one is refused to the DLQ with DynamoDB's reason; the other is applied
        assert response == {"batchItemFailures": []}
        [letter] = ledger.dead_letters()
        assert letter.document()["transaction_id"] == "t2" and letter.outcome == "refused"
        assert "DynamoDB refused the balance update" in str(letter.reason)
        assert sorted(outcomes_of(handler).values()) == ["processed", "refused"]


def test_a_credit_that_would_take_a_balance_past_64_bits_is_refused() -> None:
    with mock_aws():
        # GIVEN a ledger, and two credits of the largest amount to one account in a batch
        ledger = ledger_resources()
        handler = ledger.handler(ledger_effect)
        big = {"account_id": "a", "amount": "92233720368547758.07", "currency": "USD"}
        # WHEN they arrive together (one merged ADD), then a third on its own
        response = ledger.deliver(
            handler, {"transaction_id": "t1", **big}, {"transaction_id": "t2", **big}
        )
        ledger.deliver(handler, {"transaction_id": "t3", **big})
        # THEN the first is applied; the others are refused, and the balance stays 64-bit
        assert response == {"batchItemFailures": []}
        [balance] = ledger.items("ledger")
        assert balance["balance_minor"]["N"] == str(2**63 - 1)
        assert balance["transaction_count"]["N"] == "1"
        refused = {
            letter.document()["transaction_id"]: letter.reason for letter in ledger.dead_letters()
        }
        assert refused == dict.fromkeys(
            ["t2", "t3"], "the balance would leave the signed 64-bit range of its minor units"
        )


def test_leased_a_credit_past_64_bits_is_refused_too() -> None:
    with mock_aws():
        ledger = ledger_resources("leased")
        handler = ledger.handler(ledger_effect)
        big = {"account_id": "a", "amount": "92233720368547758.07", "currency": "USD"}
        ledger.deliver(handler, {"transaction_id": "t1", **big}, {"transaction_id": "t2", **big})
        assert sorted(outcomes_of(handler).values()) == ["processed", "refused"]
        [balance] = ledger.items("ledger")
        assert balance["balance_minor"]["N"] == str(2**63 - 1)


def test_a_duplicate_sharing_a_merged_take_does_not_get_an_innocent_order_refused(
    orders: ConsumerResources,
) -> None:
    # GIVEN 5 in stock and o-1 (2) already applied: 3 left
    stock(orders, **{"sku-1": 5})
    handler = orders.handler(OrdersEffect.from_setup)
    orders.deliver(handler, order("o-1", "sku-1", 2))
    # WHEN o-1 is redelivered beside a new order of 2 (one merged take of 4 fails)
    orders.deliver(handler, order("o-1", "sku-1", 2), order("o-2", "sku-1", 2))
    # THEN o-1 is a duplicate and o-2, which fits in the 3 left, is processed
    assert sorted(outcomes_of(handler).values()) == ["duplicate", "processed"]
    assert stock_of(orders, "sku-1") == 1


@dataclass
class CounterEffect:
    """Debits (a negative Add) and takes on one counter."""

    table: str

    def parse(self, document: dict[str, Any]) -> dict[str, Any]:
        return document

    def writes(self, message: dict[str, Any]) -> list[Any]:
        if message["kind"] == "debit":
            return [Add(self.table, {"sku": "x"}, {"stock": -message["n"]})]
        return [Take(self.table, {"sku": "x"}, "stock", message["n"], refusal="short")]


def test_a_take_merged_with_a_debit_never_takes_the_counter_below_zero(
    orders: ConsumerResources,
) -> None:
    # GIVEN 4 in stock, a debit of 3 and a take of 3 in one batch (one merged write)
    stock(orders, x=4)
    handler = orders.handler(CounterEffect(orders.tables["inventory"]))
    orders.deliver(
        handler,
        {"order_id": "a", "kind": "debit", "n": 3},
        {"order_id": "b", "kind": "take", "n": 3},
    )
    # THEN the debit is applied, and the take, which no longer fits, refused
    assert stock_of(orders, "x") == 1
    assert sorted(outcomes_of(handler).values()) == ["processed", "refused"]


class ExtraReasons:
    """A client whose cancellations carry more reasons than the transaction had items."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        try:
            return self._client.transact_write_items(**kwargs)
        except ClientError as exc:
            exc.response["CancellationReasons"] = [
                *exc.response.get("CancellationReasons", []),
                {"Code": "None"},
            ]
            raise


def test_cancellation_reasons_that_do_not_match_the_items_are_not_trusted(
    orders: ConsumerResources,
) -> None:
    stock(orders, **{"sku-1": 0, "sku-2": 5})
    handler = orders.handler(OrdersEffect.from_setup)
    handler._dynamodb = ExtraReasons(orders.dynamodb)
    response = orders.deliver(handler, order("o-1", "sku-1"), order("o-2", "sku-2"))
    # THEN no exception fails the batch: the chunk is narrowed, o-2 applied, o-1 retried
    assert accepted(orders) == {"o-2"}
    assert len(response["batchItemFailures"]) == 1


@dataclass
class MalformedEffect:
    """One message's raw item is malformed (a float where DynamoDB wants a string)."""

    table: str

    def parse(self, document: dict[str, Any]) -> dict[str, Any]:
        return document

    def writes(self, message: dict[str, Any]) -> list[Any]:
        if message["order_id"] == "bad":
            item = {"sku": {"S": "z"}, "stock": {"N": 1.5}}
            return [TransactItem({"Put": {"TableName": self.table, "Item": item}})]
        return [Add(self.table, {"sku": message["order_id"]}, {"stock": 1})]


def test_a_malformed_write_refuses_only_its_own_message(orders: ConsumerResources) -> None:
    handler = orders.handler(MalformedEffect(orders.tables["inventory"]))
    orders.deliver(handler, {"order_id": "g1"}, {"order_id": "bad"}, {"order_id": "g2"})
    assert sorted(outcomes_of(handler).values()) == ["processed", "processed", "refused"]
    [letter] = orders.dead_letters()
    assert letter.document() == {"order_id": "bad"}
    assert str(letter.reason).startswith("the effect's write is malformed")


def test_fifo_a_later_copy_of_a_refused_key_with_another_payload_holds_its_group_back() -> None:
    with mock_aws():
        # GIVEN a FIFO group: o-1 x3 (short), o-1 x1 (same key, other payload), then o-2
        resources = orders_resources(fifo=True)
        stock(resources, **{"sku-1": 1, "sku-2": 5})
        handler = resources.handler(OrdersEffect.from_setup)
        response = resources.deliver(
            handler, order("o-1", "sku-1", 3), order("o-1", "sku-1", 1), order("o-2", "sku-2")
        )
        # THEN nothing after the retried copy commits ahead of it: o-2 waits its turn
        assert stock_of(resources, "sku-2") == 5
        assert len(response["batchItemFailures"]) == 2


def test_two_copies_refused_from_the_message_alone_are_dead_lettered_once(
    orders: ConsumerResources,
) -> None:
    stock(orders, **{"sku-1": 100})
    handler = orders.handler(
        LimitedOrders(
            inventory_table=orders.tables["inventory"], orders_table=orders.tables["orders"]
        )
    )
    orders.deliver(handler, order("o-1", "sku-1", 9), order("o-1", "sku-1", 9))
    assert sorted(outcomes_of(handler).values()) == ["duplicate", "refused"]
    assert len(orders.dead_letters()) == 1


class FixedTables:
    """An effect class that takes no Setup: its tables are fixed."""

    table = "fixed"

    def parse(self, document: dict[str, Any]) -> dict[str, Any]:
        return document

    def writes(self, message: dict[str, Any]) -> list[Any]:
        return [Add(self.table, {"sku": message["order_id"]}, {"stock": 1})]


def test_make_handler_takes_an_effect_class_without_a_setup_parameter(
    orders: ConsumerResources,
) -> None:
    FixedTables.table = orders.tables["inventory"]
    handler = orders.handler(FixedTables)
    assert orders.deliver(handler, {"order_id": "a"}) == {"batchItemFailures": []}
    assert stock_of(orders, "a") == 1


def test_an_effect_factory_gets_clients_for_other_services_from_one_session(
    orders: ConsumerResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a factory that takes an SNS and an EventBridge client from its Setup
    import botocore.session

    sessions: list[Any] = []
    real_get_session = botocore.session.get_session

    def counting_get_session() -> Any:
        sessions.append(real_get_session())
        return sessions[-1]

    monkeypatch.setattr(botocore.session, "get_session", counting_get_session)
    taken: dict[str, Any] = {}

    def factory(setup: Setup) -> FixedTables:
        taken["sns"], taken["events"] = setup.client("sns"), setup.client("events")
        taken["topic"] = taken["sns"].create_topic(Name="shipped")["TopicArn"]
        return FixedTables()

    FixedTables.table = orders.tables["inventory"]
    handler = orders.handler(factory)
    # WHEN the first invocation builds the effect
    assert orders.deliver(handler, {"order_id": "a"}) == {"batchItemFailures": []}
    # THEN both are botocore clients of their service, from one session, working on moto
    assert [taken[s].meta.service_model.service_name for s in ("sns", "events")] == [
        "sns",
        "events",
    ]
    assert len(sessions) == 1
    topics = boto3.client("sns", region_name=REGION).list_topics()["Topics"]
    assert {"TopicArn": taken["topic"]} in topics
