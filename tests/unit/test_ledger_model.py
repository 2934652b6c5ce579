from __future__ import annotations

from typing import Any

import pytest

from exactly_once.errors import InvalidMessage
from exactly_once.keys import payload_hash
from exactly_once.writes import plan
from ledger.effects import LedgerAtomicEffect
from ledger.model import MAX_MINOR, MIN_MINOR, parse_transaction


def tx(**overrides: Any) -> dict[str, Any]:
    base = {"transaction_id": "tx-1", "account_id": "acct-1", "amount": "10.50", "currency": "EUR"}
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("amount", "currency", "minor", "exponent"),
    [
        ("10.50", "EUR", 1050, 2),
        ("-3", "EUR", -300, 2),
        ("0.01", "USD", 1, 2),
        ("7.5", "GBP", 750, 2),
        ("100", "JPY", 100, 0),
        ("-7", "KRW", -7, 0),
        ("1.005", "KWD", 1005, 3),
        ("2", "BHD", 2000, 3),
        ("0.1", "OMR", 100, 3),
        ("1.0001", "CLF", 10001, 4),
        ("12.34", "VED", 1234, 2),
    ],
)
def test_amounts_become_integers_of_the_currencys_minor_unit(
    amount: str, currency: str, minor: int, exponent: int
) -> None:
    transaction = parse_transaction(tx(amount=amount, currency=currency))
    assert (transaction.amount_minor, transaction.minor_unit_exponent) == (minor, exponent)


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [
        ("100.50", "JPY", "amount: JPY has 0 decimal places, got 2"),
        ("1.5", "KRW", "amount: KRW has 0 decimal places, got 1"),
        ("1.0005", "KWD", "amount: KWD has 3 decimal places, got 4"),
        ("1.001", "EUR", "amount: EUR has 2 decimal places, got 3"),
        ("0.00001", "CLF", "amount: CLF has 4 decimal places, got 5"),
    ],
)
def test_more_places_than_the_currency_has_is_invalid_with_that_reason(
    amount: str, currency: str, reason: str
) -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_transaction(tx(amount=amount, currency=currency))
    assert caught.value.reason == f"invalid transaction: {reason}"


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"amount": "1.234"}, "amount", "EUR has 2 decimal places, got 3"),
        ({"amount": "1e3"}, "amount", "plain decimal string"),
        ({"amount": "NaN"}, "amount", "plain decimal string"),
        ({"amount": "Infinity"}, "amount", "plain decimal string"),
        ({"amount": "-0.00"}, "amount", "must not be zero"),
        ({"amount": "-0", "currency": "XYZ"}, "amount", "must not be zero"),
        ({"amount": str(MAX_MINOR)}, "amount", "64-bit"),
        ({"amount": "9" * 1_000_000}, "amount", "64-bit"),  # refused before any int()
        ({"amount": "0." + "0" * 1_000_000 + "1"}, "amount", "EUR has 2 decimal places"),
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
    assert eur["UpdateExpression"] == "ADD #a0 :a0, #a1 :a1 SET #s0 = if_not_exists(#s0, :s0)"
    assert eur["ExpressionAttributeNames"] == {
        "#a0": "balance_minor",
        "#a1": "transaction_count",
        "#s0": "minor_unit_exponent",
    }
    values = eur["ExpressionAttributeValues"]
    assert (values[":a0"], values[":a1"], values[":s0"]) == ({"N": "300"}, {"N": "2"}, {"N": "2"})
    # AND the balance stays within 64 bits after the update
    assert eur["ConditionExpression"] == "(attribute_not_exists(#a0) OR #a0 BETWEEN :l0 AND :h0)"
    assert values[":h0"] == {"N": str(MAX_MINOR - 300)}
    assert by_currency["EUR"].sources == (0, 1)
    assert by_currency["USD"].item["Update"]["ExpressionAttributeValues"][":a0"] == {"N": "400"}
    assert by_currency["USD"].sources == (2,)


@pytest.mark.parametrize(
    ("lowest", "highest", "currency"),
    [
        ("-92233720368547758.08", "92233720368547758.07", "EUR"),
        ("-9223372036854775808", "9223372036854775807", "JPY"),
        ("-9223372036854775.808", "9223372036854775.807", "KWD"),
        ("-922337203685477.5808", "922337203685477.5807", "CLF"),
    ],
)
def test_the_full_signed_64_bit_range_is_accepted_and_one_past_refused(
    lowest: str, highest: str, currency: str
) -> None:
    # GIVEN the amounts that are MIN_MINOR and MAX_MINOR minor units of the currency
    # THEN both are accepted, each exact
    assert parse_transaction(tx(amount=lowest, currency=currency)).amount_minor == MIN_MINOR
    assert parse_transaction(tx(amount=highest, currency=currency)).amount_minor == MAX_MINOR
    # AND one minor unit past either end is refused with the range as the reason
    for last_digit_past in (lowest[:-1] + "9", highest[:-1] + "8"):
        with pytest.raises(InvalidMessage, match="amount: exceeds the signed 64-bit range"):
            parse_transaction(tx(amount=last_digit_past, currency=currency))


def test_the_payload_hash_follows_the_amount_not_its_spelling() -> None:
    # GIVEN the same transaction spelled "10.0" and "10.00", and one for another amount
    effect = LedgerAtomicEffect("ledger")
    same = [effect.payload(parse_transaction(tx(amount=a))) for a in ("10.0", "10.00")]
    other = effect.payload(parse_transaction(tx(amount="10.01")))
    # THEN the first two hash alike, the third does not
    assert payload_hash(same[0]) == payload_hash(same[1]) != payload_hash(other)


def test_the_payload_counts_minor_units_with_the_currency() -> None:
    # GIVEN one amount in currencies with 2 and 3 places
    effect = LedgerAtomicEffect("ledger")
    eur = effect.payload(parse_transaction(tx(amount="1.50", currency="EUR")))
    kwd = effect.payload(parse_transaction(tx(amount="1.500", currency="KWD")))
    # THEN each payload holds the integer of its currency's minor unit, beside the currency
    assert (eur["amount_minor"], eur["currency"]) == (150, "EUR")
    assert (kwd["amount_minor"], kwd["currency"]) == (1500, "KWD")


def test_the_ledger_model_imports_no_pydantic() -> None:
    # The cold start: ledger.handler's import path must not pull pydantic (about 90 ms).
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys; import ledger.handler; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={"PYTHONPATH": str(root / "functions"), "PATH": ""},
        timeout=120,
    )
    assert result.stdout.strip() == "[]", result.stdout
