"""A faster TransactWriteItems for moto, so the local cloud stays fast as tables grow.

moto's own ``transact_write_items`` deep-copies every table a transaction touches, to roll
back on failure: its cost grows with the table, and a run of a few thousand messages
spends most of its time copying (measured: about 80% of CPU at 2,000 records). This
version checks every condition first without writing (DynamoDB's semantics: all or
nothing), then applies the writes, keeping copies of only the items it touches so that
a failure while applying still rolls back. Errors and cancellation reasons are moto's own.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

_OPERATIONS = {"ConditionCheck", "Put", "Delete", "Update"}


def _key_of(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _check(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[Any]:
    """Each item's (code, message, old item) cancellation reason, without writing anything."""
    seen: set[tuple[str, str]] = set()
    reasons: list[Any] = []
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        if op_type not in _OPERATIONS:
            raise ValueError("Unsupported transaction operation")
        key = _key_of(backend, op_type, op)
        identity = (str(op["TableName"]), str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        try:
            current = backend.get_item(op["TableName"], key)
        except Exception as exc:  # noqa: BLE001 - reported as that item's reason, as moto does
            reasons.append((type(exc).__name__, str(exc), None))
            continue
        condition = op.get("ConditionExpression")
        if condition is not None:
            expression = get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            )
            try:
                holds = expression.expr(current)
            except MockValidationException:
                raise
            except Exception as exc:  # noqa: BLE001 - moto reports it as the item's reason
                reasons.append((type(exc).__name__, str(exc), None))
                continue
            if not holds:
                old = None
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    old = current.to_json()["Attributes"]
                reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
                continue
        reasons.append((None, None, None))
    return reasons


def fast_transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    reasons = _check(self, transact_items)
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    touched: list[tuple[str, dict[str, Any], Any]] = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        key = _key_of(self, op_type, op)
        touched.append((op["TableName"], key, copy.deepcopy(self.get_item(op["TableName"], key))))

    def roll_back() -> None:
        for table_name, key, before in reversed(touched):
            if before is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before.to_json()["Attributes"])

    # As moto's own: a validation error cancels the whole call; any other error is the
    # reason of its item, the others are applied (then everything is rolled back).
    applied: list[Any] = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        names = op.get("ExpressionAttributeNames")
        values = op.get("ExpressionAttributeValues")
        try:
            if op_type == "Put":
                self.put_item(op["TableName"], op["Item"])
            elif op_type == "Delete":
                self.delete_item(op["TableName"], op["Key"])
            elif op_type == "Update":
                self.update_item(
                    op["TableName"],
                    op["Key"],
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            applied.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            roll_back()
            raise
        except Exception as exc:  # noqa: BLE001 - moto reports it as the item's reason
            applied.append((type(exc).__name__, str(exc), None))
    if any(code is not None for code, _, _ in applied):
        roll_back()
        raise TransactionCanceledException(applied)


ORIGINAL = DynamoDBBackend.transact_write_items


def install() -> None:
    """Replace moto's TransactWriteItems in this process (idempotent)."""
    DynamoDBBackend.transact_write_items = fast_transact_write_items  # type: ignore[method-assign]


def uninstall() -> None:
    DynamoDBBackend.transact_write_items = ORIGINAL  # type: ignore[method-assign]
