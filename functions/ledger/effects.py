"""The ledger's effect, written both ways: inside the record's transaction, or under a lease.

The ledger table is keyed by ``account_id`` (partition) and ``currency`` (sort): an account
holds one balance per currency, in integer cents (``balance_cents``), so amounts in
different currencies are never added together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from .model import LedgerTransaction, parse_transaction

ACCOUNT_ID = "account_id"
CURRENCY = "currency"
BALANCE_CENTS = "balance_cents"
TRANSACTIONS = "transaction_count"

_ADD = "ADD #balance :delta, #count :count"
_NAMES = {"#balance": BALANCE_CENTS, "#count": TRANSACTIONS}


def _key(account_id: str, currency: str) -> dict[str, dict[str, str]]:
    return {ACCOUNT_ID: {"S": account_id}, CURRENCY: {"S": currency}}


def _values(delta_cents: int, count: int) -> dict[str, dict[str, str]]:
    return {":delta": {"N": str(delta_cents)}, ":count": {"N": str(count)}}


class LedgerAtomicEffect:
    """Balance updates as transaction items, one per (account, currency) in the batch."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def parse(self, document: dict[str, Any]) -> LedgerTransaction:
        return parse_transaction(document)

    def transact_items(self, messages: Sequence[LedgerTransaction]) -> list[dict[str, Any]]:
        # One transaction may not touch an item twice: sum the deltas per balance first.
        totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for message in messages:
            total = totals[(message.account_id, message.currency)]
            total[0] += message.amount_cents
            total[1] += 1
        return [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": _key(account_id, currency),
                    "UpdateExpression": _ADD,
                    "ExpressionAttributeNames": _NAMES,
                    "ExpressionAttributeValues": _values(delta, count),
                }
            }
            for (account_id, currency), (delta, count) in totals.items()
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

    def apply(self, message: LedgerTransaction, idempotency_key: str, attempt: int) -> None:
        self._client.update_item(
            TableName=self.table_name,
            Key=_key(message.account_id, message.currency),
            UpdateExpression=_ADD,
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues=_values(message.amount_cents, 1),
        )
