"""The local cloud's faster TransactWriteItems answers exactly as moto's own does."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline import moto_patches
from tests.support.aws import LedgerResources


def put(table: str, key: str, condition: bool = True) -> dict[str, Any]:
    op: dict[str, Any] = {"TableName": table, "Item": {"id": {"S": key}, "v": {"N": "1"}}}
    if condition:
        op["ConditionExpression"] = "attribute_not_exists(id)"
        op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Put": op}


def add(table: str, account: str, delta: int) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table,
            "Key": {"account_id": {"S": account}, "currency": {"S": "EUR"}},
            "UpdateExpression": "ADD balance_minor :d",
            "ExpressionAttributeValues": {":d": {"N": str(delta)}},
        }
    }


def scenario(resources: LedgerResources) -> list[Any]:
    """Commits, a cancellation with a reason and old item, a double touch; what came back."""
    ddb, records, ledger = resources.dynamodb, resources.idempotency_table, resources.ledger_table
    seen: list[Any] = []
    for items in (
        [put(records, "a"), add(ledger, "x", 5)],
        [put(records, "b"), put(records, "a"), add(ledger, "x", 7)],
        [put(records, "c"), put(records, "c", condition=False)],
    ):
        try:
            ddb.transact_write_items(TransactItems=items)
            seen.append("committed")
        except ClientError as exc:
            seen.append((exc.response["Error"]["Code"], exc.response.get("CancellationReasons")))
    seen.append(sorted(i["id"]["S"] for i in ddb.scan(TableName=records)["Items"]))
    seen.append(resources.balance("x"))
    return seen


def test_patched_transactions_match_moto(resources: LedgerResources) -> None:
    expected = scenario(resources)
    assert expected[0] == "committed" and expected[-1] == 5
    moto_patches.install()
    try:
        from tests.support.aws import create_ledger_resources

        assert scenario(create_ledger_resources()) == expected
    finally:
        moto_patches.uninstall()
