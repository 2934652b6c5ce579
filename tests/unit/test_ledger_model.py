from __future__ import annotations

from typing import Any

import pytest

from exactly_once.errors import InvalidMessage
from ledger.effects import LedgerAtomicEffect
from ledger.model import MAX_CENTS, parse_transaction


def tx(**overrides: Any) -> dict[str, Any]:
    base = {"transaction_id": "tx-1", "account_id": "acct-1", "amount": "10.50", "currency": "EUR"}
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("amount", "cents"), [("10.50", 1050), ("-3", -300), ("0.01", 1), ("7.5", 750)]
)
def test_amounts_become_integer_cents(amount: str, cents: int) -> None:
    assert parse_transaction(tx(amount=amount)).amount_cents == cents


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"amount": "1.234"}, "amount", "at most 2 places"),
        ({"amount": "1e3"}, "amount", "at most 2 places"),
        ({"amount": "NaN"}, "amount", "at most 2 places"),
        ({"amount": "Infinity"}, "amount", "at most 2 places"),
        ({"amount": "-0.00"}, "amount", "must not be zero"),
        ({"amount": str(MAX_CENTS)}, "amount", "64-bit"),
        ({"amount": "9" * 1_000_000}, "amount", "64-bit"),  # Decimal would overflow
        ({"amount": 10.5}, "amount", "valid string"),
        ({"currency": "XYZ"}, "currency", "ISO 4217"),
        ({"currency": "eur"}, "currency", "ISO 4217"),
        ({"account_id": ""}, "account_id", "1-128 characters"),
        ({"account_id": "a\u0000b"}, "account_id", "1-128 characters"),
        ({"transaction_id": "caf\u00e9"}, "transaction_id", "1-128 characters"),
        ({"extra": 1}, "body", "has fields other than"),
    ],
)
def test_invalid_transactions_name_the_field(
    overrides: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_transaction(tx(**overrides))
    assert f"{field}:" in caught.value.reason
    assert rule in caught.value.reason


def test_missing_field_is_named() -> None:
    document = tx()
    del document["currency"]
    with pytest.raises(InvalidMessage, match="currency: Field required"):
        parse_transaction(document)


def test_reasons_never_quote_the_values() -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_transaction(tx(amount="12.345", account_id="secret\u0007"))
    assert "12.345" not in caught.value.reason
    assert "secret" not in caught.value.reason


def test_one_update_per_balance_even_with_several_transactions() -> None:
    # GIVEN three transactions, two on the same account and currency
    effect = LedgerAtomicEffect("ledger")
    messages = [
        parse_transaction(tx(transaction_id="t1", amount="1.00")),
        parse_transaction(tx(transaction_id="t2", amount="2.00")),
        parse_transaction(tx(transaction_id="t3", amount="4.00", currency="USD")),
    ]
    # WHEN they become transaction items
    items = effect.transact_items(messages)
    # THEN the EUR balance gets one update carrying both deltas
    deltas = {
        item["Update"]["Key"]["currency"]["S"]: item["Update"]["ExpressionAttributeValues"]
        for item in items
    }
    assert len(items) == 2
    assert deltas["EUR"][":delta"] == {"N": "300"}
    assert deltas["EUR"][":count"] == {"N": "2"}
    assert deltas["USD"][":delta"] == {"N": "400"}
