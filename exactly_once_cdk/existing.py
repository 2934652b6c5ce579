"""Bring your own queue, DLQ or idempotency table: read what was passed, so that the
construct checks its invariants against the resources as they are, not as it would have
made them.

Only resources defined in the app (``sqs.Queue``, ``dynamodb.Table``) can be read: their
settings are in the template being synthesized. An imported one (``Queue.from_queue_arn``,
``Table.from_table_name``) hides them, so the construct could not tell whether the
guarantee holds; it is refused with that reason. (AWS Solutions Constructs take existing
resources the same way, as ``existingQueueObj`` and ``existingTableObj``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from aws_cdk import Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs

# What SQS uses when a queue does not say (CreateQueue's defaults).
SQS_DEFAULT_RETENTION_SECONDS = 4 * 24 * 3600
SQS_DEFAULT_VISIBILITY_SECONDS = 30


@dataclass(frozen=True)
class QueueSettings:
    """An existing queue's settings, as its template will create it."""

    queue: sqs.Queue
    fifo: bool
    retention_seconds: float
    visibility_timeout_seconds: float
    dead_letter: sqs.DeadLetterQueue | None


def _number(value: Any, default: float, what: str, problems: list[str]) -> float:
    if value is None:
        return default
    if Token.is_unresolved(value):
        problems.append(f"{what} is only known at deploy time: give it as a number")
        return default
    return float(value)


def read_queue(queue: sqs.IQueue, name: str, problems: list[str]) -> QueueSettings | None:
    """The settings of the queue passed as ``name``; None (and a problem) if unreadable."""
    if not isinstance(queue, sqs.Queue):
        problems.append(
            f"{name} is an imported queue: pass an sqs.Queue defined in this app, whose "
            "settings the construct can check (an imported queue's retention, visibility "
            "timeout and redrive policy are unknown at synth)"
        )
        return None
    cfn = queue.node.default_child
    assert isinstance(cfn, sqs.CfnQueue)
    return QueueSettings(
        queue=queue,
        fifo=bool(cfn.fifo_queue),
        retention_seconds=_number(
            cfn.message_retention_period,
            SQS_DEFAULT_RETENTION_SECONDS,
            f"{name}'s retention_period",
            problems,
        ),
        visibility_timeout_seconds=_number(
            cfn.visibility_timeout,
            SQS_DEFAULT_VISIBILITY_SECONDS,
            f"{name}'s visibility_timeout",
            problems,
        ),
        dead_letter=queue.dead_letter_queue,
    )


def table_problems(table: dynamodb.ITable, partition_key: str, ttl_attribute: str) -> list[str]:
    """What keeps ``table`` from serving as the idempotency table; empty when nothing."""
    name = "existing_idempotency_table"
    if not isinstance(table, dynamodb.Table):
        return [
            f"{name} is imported (or not a dynamodb.Table): pass a dynamodb.Table defined in "
            f"this app, whose key and time to live the construct can check"
        ]
    cfn = table.node.default_child
    assert isinstance(cfn, dynamodb.CfnTable)
    found: list[str] = []
    keys = [_plain(k) for k in cast(list[Any], cfn.key_schema or [])]
    types = {
        d["attributeName"]: d["attributeType"]
        for d in (_plain(a) for a in cast(list[Any], cfn.attribute_definitions or []))
    }
    if [(k.get("attributeName"), k.get("keyType")) for k in keys] != [(partition_key, "HASH")]:
        found.append(
            f"{name} must be keyed by the string {partition_key!r} alone (partition key, no "
            "sort key): the records are read and written by that key"
        )
    elif types.get(partition_key) != "S":
        found.append(f"{name}'s partition key {partition_key!r} must be a string (S)")
    ttl = _plain(cfn.time_to_live_specification) if cfn.time_to_live_specification else {}
    if not (ttl.get("enabled") and ttl.get("attributeName") == ttl_attribute):
        found.append(
            f"{name} needs time to live on {ttl_attribute!r} "
            f"(time_to_live_attribute={ttl_attribute!r}): expired records are never removed "
            "otherwise, and the table grows without bound"
        )
    return found


def _plain(value: Any) -> dict[str, Any]:
    """A CloudFormation property struct as a dict with camelCase keys (jsii gives either)."""
    if isinstance(value, dict):
        return value
    return {
        _camel(k): v
        for k, v in value._values.items()  # jsii structs keep their fields there
    }


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)
