"""The meter's bounds: a cancelled transaction counts in the upper bound only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bench.meter import DynamoDBMeter
from tests.support.aws import REGION, fake_credentials


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from fake_credentials(monkeypatch)


@pytest.fixture
def dynamodb(credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="records",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _put(key: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": "records",
            "Item": {"id": {"S": key}},
            "ConditionExpression": "attribute_not_exists(id)",
        }
    }


def test_a_cancelled_transaction_is_billed_in_full_doubled_above_and_nothing_below(
    dynamodb: Any,
) -> None:
    # GIVEN a metered client and a stored record "a"
    meter = DynamoDBMeter(probe=boto3.client("dynamodb", region_name=REGION))
    client = meter.attach(boto3.client("dynamodb", region_name=REGION))
    dynamodb.put_item(TableName="records", Item={"id": {"S": "a"}})

    # WHEN a transaction of two small puts commits, and another is cancelled by "a"
    meter.phase = "committed"
    client.transact_write_items(TransactItems=[_put("b"), _put("c")])
    meter.phase = "cancelled"
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        client.transact_write_items(TransactItems=[_put("a"), _put("d")])

    # THEN the committed one costs 2 x 2 WCU in both bounds
    committed = meter.tally("committed")
    assert committed.write_units_upper == committed.write_units_lower == 4.0
    # AND the cancelled one 2 x 2 WCU in the upper bound, 0 in the lower
    cancelled = meter.tally("cancelled")
    assert cancelled.write_units_upper == 4.0
    assert cancelled.write_units_lower == 0.0
    assert cancelled.cancelled_transactions == 1
