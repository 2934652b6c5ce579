from __future__ import annotations

from typing import Any

import pytest

from exactly_once.errors import InvalidMessage
from exactly_once.keys import payload_hash
from exactly_once.writes import plan
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
    planned = plan([effect.writes(message) for message in messages])
    # THEN the EUR balance gets one update carrying both deltas, and knows both messages
    by_currency = {p.item["Update"]["Key"]["currency"]["S"]: p for p in planned}
    assert len(planned) == 2
    eur = by_currency["EUR"].item["Update"]
    assert eur["UpdateExpression"] == "ADD #a0 :a0, #a1 :a1"
    assert eur["ExpressionAttributeNames"] == {"#a0": "balance_cents", "#a1": "transaction_count"}
    values = eur["ExpressionAttributeValues"]
    assert (values[":a0"], values[":a1"]) == ({"N": "300"}, {"N": "2"})
    # AND the balance stays within 64-bit cents after the update
    assert eur["ConditionExpression"] == "(attribute_not_exists(#a0) OR #a0 BETWEEN :l0 AND :h0)"
    assert values[":h0"] == {"N": str(MAX_CENTS - 300)}
    assert by_currency["EUR"].sources == (0, 1)
    assert by_currency["USD"].item["Update"]["ExpressionAttributeValues"][":a0"] == {"N": "400"}
    assert by_currency["USD"].sources == (2,)


def test_the_full_signed_64_bit_range_is_accepted() -> None:
    lowest = parse_transaction(tx(amount="-92233720368547758.08"))
    assert lowest.amount_cents == -(2**63)
    with pytest.raises(InvalidMessage, match="64-bit"):
        parse_transaction(tx(amount="-92233720368547758.09"))


def test_the_payload_hash_follows_the_amount_not_its_spelling() -> None:
    # GIVEN the same transaction spelled "10.0" and "10.00", and one for another amount
    effect = LedgerAtomicEffect("ledger")
    same = [effect.payload(parse_transaction(tx(amount=a))) for a in ("10.0", "10.00")]
    other = effect.payload(parse_transaction(tx(amount="10.01")))
    # THEN the first two hash alike, the third does not
    assert payload_hash(same[0]) == payload_hash(same[1]) != payload_hash(other)
