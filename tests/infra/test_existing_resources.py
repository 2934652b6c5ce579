"""Bring your own queue, DLQ or idempotency table: used as passed, and checked as the
construct's own would be."""

from __future__ import annotations

import re

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from exactly_once_cdk import ExactlyOnceConsumer, GuaranteeViolation, idempotency_table

from .conftest import consumer_props

pytestmark = pytest.mark.infra


def queues(
    stack: Stack,
    *,
    retention_days: int = 4,
    visibility_seconds: int = 180,
    dead_letter_days: int = 14,
    max_receive_count: int = 3,
    with_dead_letter: bool = True,
) -> tuple[sqs.Queue, sqs.Queue]:
    dead = sqs.Queue(stack, "MyDlq", retention_period=Duration.days(dead_letter_days))
    source = sqs.Queue(
        stack,
        "MyQueue",
        retention_period=Duration.days(retention_days),
        visibility_timeout=Duration.seconds(visibility_seconds),
        dead_letter_queue=(
            sqs.DeadLetterQueue(queue=dead, max_receive_count=max_receive_count)
            if with_dead_letter
            else None
        ),
    )
    return source, dead


def test_a_queue_and_table_of_your_own_are_used_as_they_are() -> None:
    # GIVEN a stack with its own queue, DLQ and idempotency table
    stack = Stack(App(), "Mine")
    source, dead = queues(stack)
    table = idempotency_table(stack, "MyRecords")
    # WHEN the consumer is given them
    consumer = ExactlyOnceConsumer(
        stack,
        "Consumer",
        **consumer_props(
            existing_queue=source, existing_idempotency_table=table, idempotency_retention=None
        ),
    )
    template = Template.from_stack(stack)
    # THEN it makes none of its own and wires the function to those
    template.resource_count_is("AWS::SQS::Queue", 2)
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    assert consumer.queue is source and consumer.dead_letter_queue is dead
    assert consumer.idempotency_table is table
    mapping = template.find_resources("AWS::Lambda::EventSourceMapping")
    [properties] = [m["Properties"] for m in mapping.values()]
    assert properties["EventSourceArn"] == {
        "Fn::GetAtt": [stack.get_logical_id(source.node.default_child), "Arn"]
    }
    # AND the timings are the queue's: its redrive count and retentions set the window
    assert consumer.timings.source_retention == 4 * 86400
    assert consumer.timings.dead_letter_retention == 14 * 86400
    assert consumer.timings.idempotency_retention == (4 + 14 + 1) * 86400


@pytest.mark.parametrize(
    ("queue_settings", "expected"),
    [
        (
            {"visibility_seconds": 30},
            "visibility_timeout is 30 s, under 6 x function_timeout",
        ),
        ({"with_dead_letter": False}, "existing_queue has no dead-letter queue"),
        (
            {"retention_days": 14, "dead_letter_days": 14},
            "dead_letter_retention is 14 days (1209600 s), not longer than source_retention",
        ),
    ],
)
def test_a_queue_of_your_own_that_breaks_the_guarantee_is_refused(
    queue_settings: dict[str, int | bool], expected: str
) -> None:
    stack = Stack(App(), "Mine")
    source, _ = queues(stack, **queue_settings)  # type: ignore[arg-type]
    with pytest.raises(GuaranteeViolation) as refused:
        ExactlyOnceConsumer(stack, "Consumer", **consumer_props(existing_queue=source))
    assert expected in str(refused.value)
    assert "changed on those resources" in str(refused.value)


def test_settings_the_queue_carries_are_not_given_twice() -> None:
    stack = Stack(App(), "Mine")
    source, _ = queues(stack)
    with pytest.raises(GuaranteeViolation) as refused:
        ExactlyOnceConsumer(
            stack,
            "Consumer",
            **consumer_props(
                existing_queue=source,
                visibility_timeout=Duration.minutes(10),
                fifo=True,
            ),
        )
    message = str(refused.value)
    assert "visibility_timeout is given with existing_queue: set it on the queue" in message
    assert "existing_queue is a standard queue: pass fifo=False" in message


def test_an_imported_queue_or_table_is_refused_for_it_cannot_be_checked() -> None:
    stack = Stack(App(), "Mine")
    imported = sqs.Queue.from_queue_arn(stack, "Q", "arn:aws:sqs:eu-west-1:123456789012:q")
    table = dynamodb.Table.from_table_name(stack, "T", "records")
    with pytest.raises(GuaranteeViolation) as refused:
        ExactlyOnceConsumer(
            stack,
            "Consumer",
            **consumer_props(existing_queue=imported, existing_idempotency_table=table),
        )
    message = str(refused.value)
    assert "existing_queue is an imported queue: pass an sqs.Queue defined in this app" in message
    assert "existing_idempotency_table is imported" in message


def test_a_table_of_your_own_needs_the_key_and_time_to_live() -> None:
    stack = Stack(App(), "Mine")
    table = dynamodb.Table(
        stack,
        "Records",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
    )
    with pytest.raises(GuaranteeViolation) as refused:
        ExactlyOnceConsumer(stack, "Consumer", **consumer_props(existing_idempotency_table=table))
    message = str(refused.value)
    assert re.search(r"keyed by the string 'id' alone", message)
    assert "needs time to live on 'expiration'" in message


def test_a_dead_letter_queue_of_your_own_is_checked_against_the_source() -> None:
    stack = Stack(App(), "Mine")
    short = sqs.Queue(stack, "ShortDlq", retention_period=Duration.days(2))
    with pytest.raises(GuaranteeViolation) as refused:
        ExactlyOnceConsumer(stack, "Consumer", **consumer_props(existing_dead_letter_queue=short))
    assert "dead_letter_retention is 2 days" in str(refused.value)
    # and a good one is used, with the construct's own source queue redriving to it
    stack = Stack(App(), "Mine2")
    dead = sqs.Queue(stack, "Dlq", retention_period=Duration.days(14))
    consumer = ExactlyOnceConsumer(
        stack, "Consumer", **consumer_props(existing_dead_letter_queue=dead)
    )
    assert consumer.dead_letter_queue is dead
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SQS::Queue", 2)


def test_queues_of_your_own_under_a_kms_key_get_the_key_grants_sending_needs() -> None:
    from aws_cdk import aws_kms as kms

    stack = Stack(App(), "Mine")
    key = kms.Key(stack, "QueueKey", enable_key_rotation=True)
    dead = sqs.Queue(
        stack,
        "Dlq",
        retention_period=Duration.days(14),
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
    )
    source = sqs.Queue(
        stack,
        "Source",
        visibility_timeout=Duration.seconds(180),
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead, max_receive_count=5),
    )
    consumer = ExactlyOnceConsumer(stack, "Consumer", **consumer_props(existing_queue=source))
    template = Template.from_stack(stack).to_json()
    key_id = stack.get_logical_id(key.node.default_child)
    on_key = {
        action
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    # THEN the role may decrypt what it receives and encrypt the dead letters it sends
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= on_key
    assert consumer.queue is source
