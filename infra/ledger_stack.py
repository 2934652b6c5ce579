"""The ledger pipeline: an ``ExactlyOnceConsumer`` whose effect is the ledger table."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from exactly_once_cdk import (
    DEFAULT_POWERTOOLS_VERSION,
    ExactlyOnceConsumer,
    ExactlyOnceMode,
)

from .common import (
    CONSUMER_OUTPUTS,
    FUNCTIONS_DIR,
    OutputName,
    add_outputs,
    consumer_outputs,
    functions_code,
    subscribe_alarm_email,
)

LEDGER_HANDLER = "ledger.handler.lambda_handler"


class LedgerStack(Stack):
    """The ledger consumer, its queues, its idempotency table and the ledger table.

    Every stage-specific value is a keyword argument, passed by ``app.py``.
    """

    OUTPUTS: ClassVar[tuple[OutputName, ...]] = (*CONSUMER_OUTPUTS, OutputName.LEDGER_TABLE_NAME)

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
        powertools_version: str = DEFAULT_POWERTOOLS_VERSION,
        powertools_layer_arn: str | None = None,
        alarm_topic_arn: str | None = None,
        alarm_email: str | None = None,
        function_timeout: Duration | None = None,
        code_directory: Path = FUNCTIONS_DIR,
        idempotency_retention: Duration | None = None,
        **stack_props: Any,
    ) -> None:
        """:param retain_data: keep tables and queues on stack deletion (RETAIN, and
        deletion protection on the tables). True for production.
        :param key_prefix: the idempotency key prefix; never derived from code names.
        :param alarm_topic_arn: an existing SNS topic for the alarms; default the
            consumer's own topic.
        :param alarm_email: subscribed to the topic the alarms go to.
        The other parameters are passed to ``ExactlyOnceConsumer`` (see its defaults);
        ``stack_props`` go to ``Stack`` (``env``, ``description``, ...).
        """
        super().__init__(scope, construct_id, **stack_props)
        removal_policy = RemovalPolicy.RETAIN if retain_data else RemovalPolicy.DESTROY
        alarm_topic = (
            sns.Topic.from_topic_arn(self, "AlarmTopic", alarm_topic_arn)
            if alarm_topic_arn is not None
            else None
        )

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
            code=functions_code(code_directory),
            handler=LEDGER_HANDLER,
            service_name=service_name,
            key_prefix=key_prefix,
            key_path="transaction_id",
            mode=mode,
            fifo=fifo,
            function_timeout=function_timeout,
            idempotency_retention=idempotency_retention,
            max_concurrency=max_concurrency,
            powertools_version=powertools_version,
            powertools_layer_arn=powertools_layer_arn,
            alarm_topic=alarm_topic,
            environment={"LEDGER_TABLE_NAME": self.ledger_table.table_name},
            log_retention=log_retention,
            removal_policy=removal_policy,
            deletion_protection=retain_data,
        )
        # The effect: ADD to a balance, inside the record's transaction (atomic) or alone
        # (leased). UpdateItem authorizes both.
        self.ledger_table.grant(self.consumer.role, "dynamodb:UpdateItem")
        if alarm_email is not None:
            subscribe_alarm_email(self.consumer, alarm_email)

        add_outputs(
            self,
            {
                **consumer_outputs(self.consumer, "ledger"),
                OutputName.LEDGER_TABLE_NAME: (self.ledger_table.table_name, "balances"),
            },
        )
