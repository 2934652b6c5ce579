"""The ledger pipeline: an ``ExactlyOnceConsumer`` whose effect is the ledger table."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from exactly_once_cdk import (
    DEFAULT_POWERTOOLS_LAYER_VERSION,
    ExactlyOnceConsumer,
    ExactlyOnceMode,
)

# The Lambda asset: everything that ships to Lambda, and nothing else.
FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
ASSET_EXCLUDES = [
    "**/__pycache__",
    "**/__pycache__/**",
    "**/*.pyc",
    "**/.mypy_cache",
    "**/.mypy_cache/**",
    "**/.pytest_cache",
    "**/.pytest_cache/**",
    "**/.ruff_cache",
    "**/.ruff_cache/**",
    "**/.DS_Store",
]
LEDGER_HANDLER = "ledger.handler.lambda_handler"


class OutputName(enum.Enum):
    """Stack output ids (and CloudFormation output keys): the CLI and local cloud read them."""

    QUEUE_URL = "QueueUrl"
    QUEUE_ARN = "QueueArn"
    DEAD_LETTER_QUEUE_URL = "DeadLetterQueueUrl"
    DEAD_LETTER_QUEUE_ARN = "DeadLetterQueueArn"
    IDEMPOTENCY_TABLE_NAME = "IdempotencyTableName"
    LEDGER_TABLE_NAME = "LedgerTableName"
    FUNCTION_NAME = "FunctionName"


class LedgerStack(Stack):
    """The ledger consumer, its queues, its idempotency table and the ledger table.

    Every stage-specific value is a keyword argument, passed by ``app.py``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retain_data: bool,
        mode: ExactlyOnceMode = ExactlyOnceMode.ATOMIC,
        fifo: bool = False,
        key_prefix: str = "ledger-v1",
        service_name: str = "ledger",
        max_concurrency: int = 5,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        powertools_layer_version: int = DEFAULT_POWERTOOLS_LAYER_VERSION,
        function_timeout: Duration | None = None,
        code_directory: Path = FUNCTIONS_DIR,
        **stack_props: Any,
    ) -> None:
        """:param retain_data: keep tables and queues on stack deletion (RETAIN, and
        deletion protection on the tables). True for production.
        :param key_prefix: the idempotency key prefix; never derived from code names.
        The other parameters are passed to ``ExactlyOnceConsumer`` (see its defaults);
        ``stack_props`` go to ``Stack`` (``env``, ``description``, ...).
        """
        super().__init__(scope, construct_id, **stack_props)
        removal_policy = RemovalPolicy.RETAIN if retain_data else RemovalPolicy.DESTROY

        self.ledger_table = dynamodb.Table(
            self,
            "LedgerTable",
            partition_key=dynamodb.Attribute(name="account_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="currency", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy,
            deletion_protection=retain_data,
        )
        self.consumer = ExactlyOnceConsumer(
            self,
            "Consumer",
            code=lambda_.Code.from_asset(str(code_directory), exclude=ASSET_EXCLUDES),
            handler=LEDGER_HANDLER,
            service_name=service_name,
            key_prefix=key_prefix,
            key_path="transaction_id",
            mode=mode,
            fifo=fifo,
            function_timeout=function_timeout,
            max_concurrency=max_concurrency,
            powertools_layer_version=powertools_layer_version,
            environment={"LEDGER_TABLE_NAME": self.ledger_table.table_name},
            log_retention=log_retention,
            removal_policy=removal_policy,
            deletion_protection=retain_data,
        )
        # The effect: ADD to a balance, inside the record's transaction (atomic) or alone
        # (leased). UpdateItem authorizes both.
        self.ledger_table.grant(self.consumer.role, "dynamodb:UpdateItem")

        consumer = self.consumer
        outputs = {
            OutputName.QUEUE_URL: (consumer.queue.queue_url, "source queue: send ledger messages"),
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
            OutputName.LEDGER_TABLE_NAME: (self.ledger_table.table_name, "balances"),
            OutputName.FUNCTION_NAME: (consumer.function.function_name, "consumer function"),
        }
        for name, (value, description) in outputs.items():
            # No export: nothing else may pin these values; readers use the output keys.
            CfnOutput(self, name.value, value=value, description=description)
