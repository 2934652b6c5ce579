"""The ledger's effect, written both ways: inside the record's transaction, or under a lease.

The ledger table is keyed by ``account_id`` (partition) and ``currency`` (sort): an account
holds one balance per currency, so amounts in different currencies are never added
together. Each item holds:

- ``balance_minor``: the balance as an integer count of the currency's minor units (ISO
  4217: 1050 is 10.50 EUR, 100 is 100 JPY, 1005 is 1.005 KWD; the places per currency are
  ``ledger.currencies.MINOR_UNITS``), kept within the signed 64-bit range;
- ``minor_unit_exponent``: the currency's places (``MINOR_UNITS``), written with the
  first transaction and never changed: the balance is ``balance_minor`` x 10^-exponent;
- ``transaction_count``: how many transactions were applied to it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from exactly_once import Add, Refused, Write

from .currencies import MINOR_UNITS
from .model import MAX_MINOR, MIN_MINOR, LedgerTransaction, parse_transaction

ACCOUNT_ID = "account_id"
CURRENCY = "currency"
BALANCE = "balance_minor"
EXPONENT = "minor_unit_exponent"
TRANSACTIONS = "transaction_count"

BALANCE_BOUND_REFUSAL = "the balance would leave the signed 64-bit range of its minor units"
_ADD = "ADD #balance :delta, #count :count SET #exponent = if_not_exists(#exponent, :exponent)"
_NAMES = {"#balance": BALANCE, "#count": TRANSACTIONS, "#exponent": EXPONENT}


def _key(account_id: str, currency: str) -> dict[str, dict[str, str]]:
    return {ACCOUNT_ID: {"S": account_id}, CURRENCY: {"S": currency}}


def _values(delta: int, count: int, currency: str) -> dict[str, dict[str, str]]:
    return {
        ":delta": {"N": str(delta)},
        ":count": {"N": str(count)},
        ":exponent": {"N": str(MINOR_UNITS[currency])},
    }


def payload_of(message: LedgerTransaction) -> dict[str, Any]:
    """What the payload hash covers: the transaction's meaning, not its spelling, so that
    ``"10.0"`` and ``"10.00"`` for one transaction id are one payload, not a conflict: the
    amount counts in the currency's minor units (the currency is in the payload too)."""
    return {
        "transaction_id": message.transaction_id,
        "account_id": message.account_id,
        "currency": message.currency,
        "amount_minor": message.amount_minor,
    }


class LedgerAtomicEffect:
    """A balance update inside the record's transaction (the layer sums them per balance)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def parse(self, document: dict[str, Any]) -> LedgerTransaction:
        return parse_transaction(document)

    def payload(self, message: LedgerTransaction) -> dict[str, Any]:
        return payload_of(message)

    def writes(self, message: LedgerTransaction) -> list[Write]:
        return [
            Add(
                self.table_name,
                {ACCOUNT_ID: message.account_id, CURRENCY: message.currency},
                {BALANCE: message.amount_minor, TRANSACTIONS: 1},
                within={BALANCE: (MIN_MINOR, MAX_MINOR)},
                refusal=BALANCE_BOUND_REFUSAL,
                initial={EXPONENT: MINOR_UNITS[message.currency]},
            )
        ]


class LedgerLeasedEffect:
    """The same balance update as a plain ``UpdateItem`` outside any transaction.

    For comparison and for the campaigns: an ``UpdateItem`` takes no idempotency key, so a
    crash between it and the record's completion applies it twice on the next attempt.
    Prefer atomic mode for effects in DynamoDB.
    """

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    def parse(self, document: dict[str, Any]) -> LedgerTransaction:
        return parse_transaction(document)

    def payload(self, message: LedgerTransaction) -> dict[str, Any]:
        return payload_of(message)

    def apply(self, message: LedgerTransaction, idempotency_key: str, attempt: int) -> None:
        delta = message.amount_minor
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=_key(message.account_id, message.currency),
                UpdateExpression=_ADD,
                # The balance stays within 64 bits, as in atomic mode.
                ConditionExpression=(
                    "attribute_not_exists(#balance) OR #balance BETWEEN :low AND :high"
                ),
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues={
                    **_values(delta, 1, message.currency),
                    ":low": {"N": str(MIN_MINOR - delta)},
                    ":high": {"N": str(MAX_MINOR - delta)},
                },
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ConditionalCheckFailedException":
                raise Refused(BALANCE_BOUND_REFUSAL) from exc
            if error.get("Code") == "ValidationException":
                # This one write is the whole effect: nothing was applied, no retry helps.
                why = f"DynamoDB refused the balance update: {error.get('Message')}"
                raise Refused(why) from exc
            raise
