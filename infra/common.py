"""What the app's stacks share: the Lambda asset and the stack outputs' names."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Acknowledgment, CfnOutput, Validations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from exactly_once_cdk import ExactlyOnceConsumer
from exactly_once_cdk.code import ASSET_EXCLUDES as CACHE_EXCLUDES

# The Lambda asset: the consumers' code, and nothing else. The runtime package beside it
# (functions/exactly_once) ships as the construct's own layer, not in this asset. Every
# consumer ships the whole directory, so the stacks share one asset.
FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
# Why an alarm email subscription has no dead-letter queue (cdk-nag Serverless-SNSRedrivePolicy).
ALARM_EMAIL_NO_DLQ = (
    "alarm notifications by email: an undelivered email would land in a queue nobody reads; "
    "the alarm's state stays in CloudWatch either way"
)


def subscribe_alarm_email(consumer: ExactlyOnceConsumer, email: str) -> None:
    """Send the consumer's alarms to ``email`` (AWS asks the address to confirm first)."""
    subscription = consumer.alarm_topic.add_subscription(subscriptions.EmailSubscription(email))
    Validations.of(subscription).acknowledge(
        Acknowledgment(id="Serverless-SNSRedrivePolicy", reason=ALARM_EMAIL_NO_DLQ)
    )


# The runtime package ships as the construct's own layer, not in the asset.
ASSET_EXCLUDES = ["exactly_once", "exactly_once/**", "requirements.txt", *CACHE_EXCLUDES]


def functions_code(code_directory: Path = FUNCTIONS_DIR) -> lambda_.Code:
    """The consumers' code: ``code_directory`` without caches or the runtime package."""
    return lambda_.Code.from_asset(str(code_directory), exclude=ASSET_EXCLUDES)


class OutputName(enum.Enum):
    """Stack output ids (and CloudFormation output keys): the CLI and local cloud read them.

    An id means the same thing in every stack that has it; each stack's ``OUTPUTS`` lists
    its own (``CONSUMER_OUTPUTS`` and its effect's tables).
    """

    QUEUE_URL = "QueueUrl"
    QUEUE_ARN = "QueueArn"
    DEAD_LETTER_QUEUE_URL = "DeadLetterQueueUrl"
    DEAD_LETTER_QUEUE_ARN = "DeadLetterQueueArn"
    IDEMPOTENCY_TABLE_NAME = "IdempotencyTableName"
    LEDGER_TABLE_NAME = "LedgerTableName"
    INVENTORY_TABLE_NAME = "InventoryTableName"
    ORDERS_TABLE_NAME = "OrdersTableName"
    FUNCTION_NAME = "FunctionName"


# What every consumer's stack outputs: its queues, idempotency table and function.
CONSUMER_OUTPUTS = (
    OutputName.QUEUE_URL,
    OutputName.QUEUE_ARN,
    OutputName.DEAD_LETTER_QUEUE_URL,
    OutputName.DEAD_LETTER_QUEUE_ARN,
    OutputName.IDEMPOTENCY_TABLE_NAME,
    OutputName.FUNCTION_NAME,
)

Outputs = Mapping[OutputName, tuple[str, str]]  # name -> (value, description)


def consumer_outputs(
    consumer: ExactlyOnceConsumer, messages: str
) -> dict[OutputName, tuple[str, str]]:
    """``CONSUMER_OUTPUTS`` of ``consumer``, whose queue takes ``messages`` (e.g. "ledger")."""
    return {
        OutputName.QUEUE_URL: (consumer.queue.queue_url, f"source queue: send {messages} messages"),
        OutputName.QUEUE_ARN: (consumer.queue.queue_arn, "source queue ARN"),
        OutputName.DEAD_LETTER_QUEUE_URL: (
            consumer.dead_letter_queue.queue_url,
            "DLQ: conflicting, invalid or refused messages, exhausted retries",
        ),
        OutputName.DEAD_LETTER_QUEUE_ARN: (consumer.dead_letter_queue.queue_arn, "DLQ ARN"),
        OutputName.IDEMPOTENCY_TABLE_NAME: (
            consumer.idempotency_table.table_name,
            "idempotency records (TTL on expiration)",
        ),
        OutputName.FUNCTION_NAME: (consumer.function.function_name, "consumer function"),
    }


def add_outputs(scope: Construct, outputs: Outputs) -> None:
    """One ``CfnOutput`` per entry, with the name's value as its id."""
    for name, (value, description) in outputs.items():
        # No export: nothing else may pin these values; readers use the output keys.
        CfnOutput(scope, name.value, value=value, description=description)
