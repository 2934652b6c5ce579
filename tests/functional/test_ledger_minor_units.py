"""Money in each currency's minor units, through ``ledger.handler`` on moto.

The handler module is imported as Lambda imports it (``handler_module``): amounts land in
the ledger table as integers of their currency's ISO 4217 minor unit (``balance_minor``),
the exponent given by the currency, and an amount with more places than its currency has
goes to the DLQ with that reason.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from exactly_once_local.events import lambda_record, sqs_event
from exactly_once_local.lambda_context import LocalLambdaContext
from ledger.currencies import MINOR_UNITS
from pipeline.verdict import ledger_balances
from tests.support.aws import LedgerResources
from tests.support.ledger import LedgerHarness, transaction

MAX_MINOR = 2**63 - 1


class _WallClock:
    def now(self) -> float:
        import time

        return time.time()


def _deliver(module: ModuleType, resources: LedgerResources, *messages: dict[str, Any]) -> Any:
    records = [lambda_record(body=json.dumps(m), queue_arn=resources.queue_arn) for m in messages]
    return module.lambda_handler(sqs_event(*records), LocalLambdaContext(clock=_WallClock()))


def _items(resources: LedgerResources) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (item["account_id"]["S"], item["currency"]["S"]): item
        for item in resources.dynamodb.scan(TableName=resources.ledger_table)["Items"]
    }


def _dead_letter_reasons(resources: LedgerResources) -> dict[str, str]:
    return {
        json.loads(m["Body"])["transaction_id"]: m["MessageAttributes"]["exactly_once.reason"][
            "StringValue"
        ]
        for m in resources.dead_letters()
    }


def test_balances_are_stored_in_each_currencys_minor_units(
    handler_module: ModuleType, resources: LedgerResources
) -> None:
    # GIVEN credits and debits in currencies with 0, 2, 3 and 4 places, and VED
    messages = [
        transaction("yen-1", "acct-1", "100", "JPY"),
        transaction("yen-2", "acct-1", "-1", "JPY"),
        transaction("eur-1", "acct-1", "10.5", "EUR"),
        transaction("kwd-1", "acct-1", "1.005", "KWD"),
        transaction("kwd-2", "acct-1", "2", "KWD"),
        transaction("clf-1", "acct-1", "0.0001", "CLF"),
        transaction("ved-1", "acct-1", "3.10", "VED"),
    ]
    # WHEN they arrive in one batch through the deployed handler module
    response = _deliver(handler_module, resources, *messages)

    # THEN all are applied, each balance an integer of its currency's minor unit
    assert response == {"batchItemFailures": []}
    items = _items(resources)
    stored = {currency: item["balance_minor"]["N"] for (_, currency), item in items.items()}
    assert stored == {"JPY": "99", "EUR": "1050", "KWD": "3005", "CLF": "1", "VED": "310"}
    assert {c: MINOR_UNITS[c] for c in stored} == {"JPY": 0, "EUR": 2, "KWD": 3, "CLF": 4, "VED": 2}
    # AND the exponent beside each balance, written once with its first transaction
    exponents = {c: item["minor_unit_exponent"]["N"] for (_, c), item in items.items()}
    assert exponents == {"JPY": "0", "EUR": "2", "KWD": "3", "CLF": "4", "VED": "2"}
    assert items[("acct-1", "KWD")]["transaction_count"]["N"] == "2"
    # AND the one reader of the storage format reads the same (minor units, count)
    assert ledger_balances(resources.dynamodb, resources.ledger_table)[("acct-1", "JPY")] == (
        99,
        2,
    )


def test_more_places_than_the_currency_has_is_dead_lettered_with_the_reason(
    handler_module: ModuleType, resources: LedgerResources
) -> None:
    # GIVEN half a yen, a dinar amount with four places, and a valid euro amount
    messages = [
        transaction("half-yen", "acct-2", "100.50", "JPY"),
        transaction("kwd-4dp", "acct-2", "1.0005", "KWD"),
        transaction("eur-ok", "acct-2", "1.00", "EUR"),
    ]
    # WHEN they arrive in one batch
    response = _deliver(handler_module, resources, *messages)

    # THEN the first two are dead-lettered with the currency's rule; the third is applied
    assert response == {"batchItemFailures": []}
    assert _dead_letter_reasons(resources) == {
        "half-yen": "invalid transaction: amount: JPY has 0 decimal places, got 2",
        "kwd-4dp": "invalid transaction: amount: KWD has 3 decimal places, got 4",
    }
    assert set(_items(resources)) == {("acct-2", "EUR")}


def test_the_full_64_bit_range_of_minor_units_is_stored_exactly(
    handler_module: ModuleType, resources: LedgerResources
) -> None:
    # GIVEN the largest and the smallest 64-bit yen amounts, on two accounts
    messages = [
        transaction("max", "acct-max", str(MAX_MINOR), "JPY"),
        transaction("min", "acct-min", str(-MAX_MINOR - 1), "JPY"),
    ]
    # WHEN applied, and then one more yen on the full balance
    _deliver(handler_module, resources, *messages)
    _deliver(handler_module, resources, transaction("one-more", "acct-max", "1", "JPY"))

    # THEN both ends are stored exactly; the extra yen is refused, the balance unchanged
    assert ledger_balances(resources.dynamodb, resources.ledger_table) == {
        ("acct-max", "JPY"): (MAX_MINOR, 1),
        ("acct-min", "JPY"): (-MAX_MINOR - 1, 1),
    }
    assert _dead_letter_reasons(resources) == {
        "one-more": "the balance would leave the signed 64-bit range of its minor units"
    }


def test_leased_mode_stores_minor_units_too(leased_ledger: LedgerHarness) -> None:
    # GIVEN the leased ledger, WHEN a yen and a dinar transaction are processed
    response = leased_ledger.invoke(
        transaction("l-yen", "acct-3", "250", "JPY"), transaction("l-kwd", "acct-3", "0.25", "KWD")
    )
    # THEN each balance holds its currency's minor units
    assert response == {"batchItemFailures": []}
    resources = leased_ledger.resources
    assert resources.balance("acct-3", "JPY") == 250
    assert resources.balance("acct-3", "KWD") == 250
    # AND the exponent beside each, as in atomic mode
    items = _items(resources)
    assert items[("acct-3", "JPY")]["minor_unit_exponent"] == {"N": "0"}
    assert items[("acct-3", "KWD")]["minor_unit_exponent"] == {"N": "3"}
