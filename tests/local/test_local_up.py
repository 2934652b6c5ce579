"""`local up` end to end: moto server, deployed stack, local poller, real handler."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.local_cloud import LocalCloud, start_local_cloud
from pipeline.moto_server import free_port
from pipeline.stack import LocalClients

pytestmark = [pytest.mark.local, pytest.mark.slow]

VALID = {"transaction_id": "t-1", "account_id": "acct-1", "amount": "10.00", "currency": "EUR"}
INVALID = {"transaction_id": "t-2", "account_id": "acct-1", "amount": "not money"}


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    lines: list[str] = []
    running = start_local_cloud(free_port(), "dev", on_batch=lines.append)
    try:
        yield running
    finally:
        running.stop()


def _client(cloud: LocalCloud, service: str) -> Any:
    return LocalClients(cloud.endpoint_url, cloud.endpoint.region).client(service)


def test_messages_sent_to_the_local_cloud_reach_the_ledger_once(cloud: LocalCloud) -> None:
    sqs = _client(cloud, "sqs")
    dynamodb = _client(cloud, "dynamodb")
    queue_url = cloud.outputs["QueueUrl"]
    for body in (VALID, VALID, INVALID):  # the resend gets a new message id
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))

    assert cloud.wait_until_empty(timeout_seconds=180), "queue not drained in 180 s"

    item = dynamodb.get_item(
        TableName=cloud.outputs["LedgerTableName"],
        Key={"account_id": {"S": "acct-1"}, "currency": {"S": "EUR"}},
        ConsistentRead=True,
    )["Item"]
    assert int(item["balance_cents"]["N"]) == 1000

    dead: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not dead and time.monotonic() < deadline:
        dead = sqs.receive_message(
            QueueUrl=cloud.outputs["DeadLetterQueueUrl"],
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
    assert [json.loads(m["Body"]) for m in dead] == [INVALID]
    assert "exactly_once.reason" in dead[0]["MessageAttributes"]
