"""One consumer's queues and tables on in-process moto, for a user's tests.

``ConsumerResources`` creates what ``ExactlyOnceConsumer`` deploys (a source queue with its
redrive policy, the DLQ, the idempotency table from the construct's own definition) plus
the effect's tables, and wires ``exactly_once.make_handler`` to them. Call it inside moto's
``mock_aws`` (the ``exactly_once_aws`` fixture does).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exactly_once import Clock, ManualClock, make_handler
from exactly_once.handler import ExactlyOnceHandler

from .events import lambda_record, sqs_event
from .lambda_context import LocalLambdaContext
from .tables import idempotency_table_definition

REGION = "eu-west-1"
# The construct's defaults: source 4 days, DLQ 14 days, margin 1 day, function timeout 30 s.
SOURCE_RETENTION_SECONDS = 4 * 24 * 3600
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
IDEMPOTENCY_RETENTION_SECONDS = (4 + 14 + 1) * 24 * 3600
FUNCTION_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class DeadLetter:
    """A message in the DLQ: its body untouched and the reason the consumer gave."""

    body: str
    outcome: str | None
    reason: str | None
    source_message_id: str | None
    attributes: dict[str, Any]

    def document(self) -> Any:
        return json.loads(self.body)


@dataclass
class ConsumerResources:
    """A consumer's queues and idempotency table on moto, and the handler wired to them."""

    dynamodb: Any
    sqs: Any
    key_prefix: str
    key_path: str
    mode: str
    idempotency_table: str
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    tables: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def fifo(self) -> bool:
        return self.queue_arn.endswith(".fifo")

    def environ(self, **overrides: str) -> dict[str, str]:
        """The function's environment as the construct sets it, with the effect's variables."""
        return {
            "IDEMPOTENCY_TABLE_NAME": self.idempotency_table,
            "DEAD_LETTER_QUEUE_URL": self.dead_letter_queue_url,
            "IDEMPOTENCY_KEY_PREFIX": self.key_prefix,
            "IDEMPOTENCY_KEY_PATH": self.key_path,
            "IDEMPOTENCY_RETENTION_SECONDS": str(IDEMPOTENCY_RETENTION_SECONDS),
            "LEASE_MAX_SECONDS": str(FUNCTION_TIMEOUT_SECONDS),
            "EXACTLY_ONCE_MODE": self.mode,
            "POWERTOOLS_SERVICE_NAME": self.key_prefix,
            **self.environment,
            **overrides,
        }

    def table(
        self,
        name: str,
        partition_key: str,
        sort_key: str | None = None,
        *,
        env: str | None = None,
    ) -> str:
        """Create an effect table (string keys, on demand); ``env`` names the variable that
        carries its name in ``environ()``. Returns the table's name."""
        table_name = f"{name}-{uuid.uuid4().hex[:8]}"
        keys = [(partition_key, "HASH")] + ([(sort_key, "RANGE")] if sort_key else [])
        self.dynamodb.create_table(
            TableName=table_name,
            KeySchema=[{"AttributeName": k, "KeyType": kind} for k, kind in keys],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
            BillingMode="PAY_PER_REQUEST",
        )
        self.tables[name] = table_name
        if env:
            self.environment[env] = table_name
        return table_name

    def handler(self, effect: Any, *, clock: Clock | None = None, **env: str) -> ExactlyOnceHandler:
        """``make_handler(effect)`` wired to these resources' clients and environment."""
        logger_name = f"exactly-once-test-{uuid.uuid4().hex[:6]}"
        from aws_lambda_powertools import Logger, Metrics

        return make_handler(
            effect,
            environ=self.environ(**env),
            clock=clock,
            dynamodb=self.dynamodb,
            sqs=self.sqs,
            logger=Logger(service=logger_name, level=logging.WARNING),
            metrics=Metrics(namespace="ExactlyOnceTest"),
        )

    def records(
        self, *bodies: Mapping[str, Any] | str, group_id: str | None = None
    ) -> list[dict[str, Any]]:
        """SQS event records for ``bodies`` (dicts are sent as JSON), on this queue."""
        if self.fifo and group_id is None:
            group_id = "group-1"
        return [
            lambda_record(
                body=body if isinstance(body, str) else json.dumps(body),
                queue_arn=self.queue_arn,
                group_id=group_id,
            )
            for body in bodies
        ]

    def event(
        self, *bodies: Mapping[str, Any] | str, group_id: str | None = None
    ) -> dict[str, Any]:
        """An SQS event of AWS's documented shape carrying ``bodies``."""
        return sqs_event(*self.records(*bodies, group_id=group_id))

    def deliver(
        self,
        handler: Any,
        *bodies: Mapping[str, Any] | str,
        clock: Clock | None = None,
        group_id: str | None = None,
    ) -> dict[str, Any]:
        """Invoke ``handler`` with one batch of ``bodies``; returns the partial batch response."""
        context = LocalLambdaContext(clock or ManualClock(), FUNCTION_TIMEOUT_SECONDS)
        return dict(handler(self.event(*bodies, group_id=group_id), context))

    def dead_letters(self) -> list[DeadLetter]:
        """Everything in the DLQ (received, then made visible again), with the reasons."""
        received: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.dead_letter_queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not batch:
                break
            received.extend(batch)
        for message in received:
            self.sqs.change_message_visibility(
                QueueUrl=self.dead_letter_queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )

        def attribute(message: Mapping[str, Any], name: str) -> str | None:
            value = (message.get("MessageAttributes") or {}).get(name)
            return None if value is None else str(value.get("StringValue"))

        return [
            DeadLetter(
                body=message["Body"],
                outcome=attribute(message, "exactly_once.outcome"),
                reason=attribute(message, "exactly_once.reason"),
                source_message_id=attribute(message, "exactly_once.source_message_id"),
                attributes=dict(message.get("MessageAttributes") or {}),
            )
            for message in received
        ]

    def items(self, table: str) -> list[dict[str, Any]]:
        """Every item of a table (by the name given to ``table()``, or its real name)."""
        name = self.tables.get(table, table)
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
        while True:
            page = self.dynamodb.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def create_consumer_resources(
    dynamodb: Any,
    sqs: Any,
    *,
    key_prefix: str,
    key_path: str,
    mode: str = "atomic",
    fifo: bool = False,
    max_receive_count: int = 5,
    visibility_timeout: int = 6 * FUNCTION_TIMEOUT_SECONDS,
) -> ConsumerResources:
    """A consumer's source queue, DLQ and idempotency table, uniquely named."""
    suffix = uuid.uuid4().hex[:8]
    idempotency_table = f"{key_prefix}-idempotency-{suffix}"
    definition = idempotency_table_definition()
    dynamodb.create_table(TableName=idempotency_table, **definition.create_table_arguments())
    if definition.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=idempotency_table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": definition.ttl_attribute},
        )
    ending = ".fifo" if fifo else ""
    fifo_attributes = {"FifoQueue": "true"} if fifo else {}
    dlq_url = sqs.create_queue(
        QueueName=f"{key_prefix}-dlq-{suffix}{ending}",
        Attributes={
            "MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_SECONDS),
            **fifo_attributes,
        },
    )["QueueUrl"]
    dlq_arn = _arn(sqs, dlq_url)
    queue_url = sqs.create_queue(
        QueueName=f"{key_prefix}-{suffix}{ending}",
        Attributes={
            "MessageRetentionPeriod": str(SOURCE_RETENTION_SECONDS),
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
            ),
            **fifo_attributes,
        },
    )["QueueUrl"]
    return ConsumerResources(
        dynamodb=dynamodb,
        sqs=sqs,
        key_prefix=key_prefix,
        key_path=key_path,
        mode=mode,
        idempotency_table=idempotency_table,
        queue_url=queue_url,
        queue_arn=_arn(sqs, queue_url),
        dead_letter_queue_url=dlq_url,
    )


def _arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def outcomes_of(handler: Any) -> dict[str, str]:
    """Message id to outcome name, of the handler's last batch."""
    return {mid: d.outcome.value for mid, d in handler.last_decisions.items()}


def failed_ids(response: Mapping[str, Any]) -> set[str]:
    """The message ids a partial batch response asks SQS to deliver again."""
    return {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}


__all__: Sequence[str] = [
    "ConsumerResources",
    "DeadLetter",
    "create_consumer_resources",
    "failed_ids",
    "outcomes_of",
]
