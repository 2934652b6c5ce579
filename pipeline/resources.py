"""The ledger's tables and queues created directly through the AWS API, as infra/ defines them.

For in-process moto (tests, the quick demo); the local cloud deploys the CDK template instead.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "eu-west-1"


@dataclass
class LedgerResources:
    dynamodb: Any
    sqs: Any
    idempotency_table: str
    ledger_table: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str

    def environ(self, **overrides: str) -> dict[str, str]:
        env = {
            "IDEMPOTENCY_TABLE_NAME": self.idempotency_table,
            "LEDGER_TABLE_NAME": self.ledger_table,
            "DEAD_LETTER_QUEUE_URL": self.dlq_url,
            "IDEMPOTENCY_KEY_PREFIX": "ledger-v1",
            "IDEMPOTENCY_KEY_PATH": "transaction_id",
            # The construct's defaults: source 4 days + DLQ 14 days + margin 1 day, and a
            # lease no longer than the 30 s function timeout.
            "IDEMPOTENCY_RETENTION_SECONDS": str((4 + 14 + 1) * 24 * 3600),
            "LEASE_MAX_SECONDS": "30",
        }
        env.update(overrides)
        return env

    def balance(self, account_id: str, currency: str = "EUR") -> int:
        item = self.dynamodb.get_item(
            TableName=self.ledger_table,
            Key={"account_id": {"S": account_id}, "currency": {"S": currency}},
            ConsistentRead=True,
        ).get("Item")
        return int(item["balance_minor"]["N"]) if item else 0

    def applied_count(self, account_id: str, currency: str = "EUR") -> int:
        item = self.dynamodb.get_item(
            TableName=self.ledger_table,
            Key={"account_id": {"S": account_id}, "currency": {"S": currency}},
            ConsistentRead=True,
        ).get("Item")
        return int(item["transaction_count"]["N"]) if item else 0

    def dead_letters(self) -> list[dict[str, Any]]:
        """Everything in the DLQ, with message attributes (received, then made visible again)."""
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not batch:
                break
            messages.extend(batch)
        for message in messages:
            self.sqs.change_message_visibility(
                QueueUrl=self.dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return messages


def create_ledger_resources(
    fifo: bool = False, visibility_timeout: int = 180, max_receive_count: int = 5
) -> LedgerResources:
    """Tables and queues with unique names, as infra/ defines them."""
    suffix = uuid.uuid4().hex[:8]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    idempotency_table = f"idempotency-{suffix}"
    ledger_table = f"ledger-{suffix}"
    dynamodb.create_table(
        TableName=idempotency_table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=idempotency_table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
    )
    dynamodb.create_table(
        TableName=ledger_table,
        KeySchema=[
            {"AttributeName": "account_id", "KeyType": "HASH"},
            {"AttributeName": "currency", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "account_id", "AttributeType": "S"},
            {"AttributeName": "currency", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ending = ".fifo" if fifo else ""
    fifo_attributes = {"FifoQueue": "true"} if fifo else {}
    dlq_url = sqs.create_queue(
        QueueName=f"ledger-dlq-{suffix}{ending}",
        Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600), **fifo_attributes},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=f"ledger-{suffix}{ending}",
        Attributes={
            "MessageRetentionPeriod": str(4 * 24 * 3600),
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
            ),
            **fifo_attributes,
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return LedgerResources(
        dynamodb=dynamodb,
        sqs=sqs,
        idempotency_table=idempotency_table,
        ledger_table=ledger_table,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
    )


def scan_items(client: Any, table: str) -> Iterator[dict[str, Any]]:
    """Every item of ``table``, page by page, strongly consistent."""
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
