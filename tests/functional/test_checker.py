"""The exactly-once checker can fail: it catches consumers that are not exactly-once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exactly_once_local.checker import ExactlyOnceReport
from exactly_once_local.pytest_plugin import LocalAws
from ledger.bootstrap import ledger_effect


def ledger_world(aws: LocalAws, mode: str = "atomic") -> Any:
    resources = aws.consumer(key_prefix="ledger-v1", key_path="transaction_id", mode=mode)
    resources.table("ledger", "account_id", "currency", env="LEDGER_TABLE_NAME")
    return resources


def balances(resources: Any) -> dict[str, str]:
    return {i["account_id"]["S"]: i["balance_minor"]["N"] for i in resources.items("ledger")}


BATCH = [
    {"transaction_id": f"t-{i}", "account_id": f"a-{i % 2}", "amount": "1.00", "currency": "EUR"}
    for i in range(3)
]


def test_the_ledger_in_atomic_mode_passes(
    exactly_once_aws: LocalAws, exactly_once_check: Any
) -> None:
    report: ExactlyOnceReport = exactly_once_check(
        fresh=lambda: ledger_world(exactly_once_aws),
        bodies=BATCH,
        observe=balances,
        effect=ledger_effect,
    )
    report.assert_ok()
    assert report.reference == {"a-0": "200", "a-1": "100"}


def test_a_consumer_that_bypasses_the_layer_is_caught(
    exactly_once_aws: LocalAws, exactly_once_check: Any
) -> None:
    # GIVEN a handler that applies each message straight away, with no idempotency record
    def bypassing(resources: Any, dynamodb: Any, clock: Any) -> Any:
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            for record in event["Records"]:
                body = json.loads(record["body"])
                dynamodb.update_item(
                    TableName=resources.tables["ledger"],
                    Key={"account_id": {"S": body["account_id"]}, "currency": {"S": "EUR"}},
                    UpdateExpression="ADD balance_minor :c",
                    ExpressionAttributeValues={":c": {"N": "100"}},
                )
            return {"batchItemFailures": []}

        return handler

    # WHEN the checker runs it
    report = exactly_once_check(
        fresh=lambda: ledger_world(exactly_once_aws),
        bodies=BATCH,
        observe=balances,
        handler=bypassing,
    )
    # THEN the repeated delivery and the crashes after a write show double effects
    assert not report.ok
    failed = {scenario.name for scenario in report.failures}
    assert "delivered twice" in failed
    assert "crash after call 1 (UpdateItem), then redelivery" in failed
    with pytest.raises(AssertionError, match="delivered twice: the effect differs"):
        report.assert_ok()


def test_a_leased_effect_that_is_not_idempotent_is_caught_at_the_crash_after_it(
    exactly_once_aws: LocalAws, exactly_once_check: Any
) -> None:
    # GIVEN the ledger in leased mode: its UpdateItem takes no idempotency key
    report = exactly_once_check(
        fresh=lambda: ledger_world(exactly_once_aws, mode="leased"),
        bodies=BATCH[:1],
        observe=balances,
        effect=ledger_effect,
    )
    # (calls: 1 the lease, 2 the effect, 3 the completion)
    # THEN exactly the crashes between the effect and the completion apply it twice
    assert [s.name for s in report.failures] == [
        "crash after call 2 (UpdateItem), then redelivery",
        "crash before call 3 (UpdateItem), then redelivery",
    ]
    assert 'expected {"a-0": "100"}' in report.describe()
