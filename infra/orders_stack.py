"""The orders pipeline: an ``ExactlyOnceConsumer`` whose effect takes stock and writes the
order, in one transaction with the idempotency record (atomic mode only)."""

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

ORDERS_HANDLER = "orders.handler.lambda_handler"
# ``orders.effect.CHARGES_QUEUE_ENV`` (infra does not import the functions' code).
CHARGES_QUEUE_ENV = "CHARGES_QUEUE_URL"


class OrdersStack(Stack):
    """The orders consumer, its queues, its idempotency table, the inventory and the orders.

    Every stage-specific value is a keyword argument, passed by ``app.py``. The mode is
    atomic, always: the stock decrement, the order row and the record commit together or
    not at all, which a lease cannot promise.
    """

    OUTPUTS: ClassVar[tuple[OutputName, ...]] = (
        *CONSUMER_OUTPUTS,
        OutputName.INVENTORY_TABLE_NAME,
        OutputName.ORDERS_TABLE_NAME,
    )

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retain_data: bool,
        fifo: bool = False,
        key_prefix: str = "orders-v1",
        service_name: str = "orders",
        max_concurrency: int = 5,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        powertools_version: str = DEFAULT_POWERTOOLS_VERSION,
        powertools_layer_arn: str | None = None,
        alarm_topic_arn: str | None = None,
        alarm_email: str | None = None,
        function_timeout: Duration | None = None,
        code_directory: Path = FUNCTIONS_DIR,
        charges_to: ExactlyOnceConsumer | None = None,
        **stack_props: Any,
    ) -> None:
        """:param retain_data: keep tables and queues on stack deletion (RETAIN, and
        deletion protection on the tables). True for production.
        :param charges_to: the ledger's consumer: each accepted order sends its charge to
            that consumer's queue (the only queue of it the orders function may use), and
            every order then needs a customer and a price. None: orders are not charged.
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

        def effect_table(construct_id: str, partition_key: str) -> dynamodb.Table:
            return dynamodb.Table(
                self,
                construct_id,
                partition_key=dynamodb.Attribute(
                    name=partition_key, type=dynamodb.AttributeType.STRING
                ),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                removal_policy=removal_policy,
                deletion_protection=retain_data,
            )

        # Stock per SKU (``stock``, a number), and one row per order.
        self.inventory_table = effect_table("InventoryTable", "sku")
        self.orders_table = effect_table("OrdersTable", "order_id")
        self.consumer = ExactlyOnceConsumer(
            self,
            "Consumer",
            code=functions_code(code_directory),
            handler=ORDERS_HANDLER,
            service_name=service_name,
            key_prefix=key_prefix,
            key_path="order_id",
            mode=ExactlyOnceMode.ATOMIC,
            fifo=fifo,
            function_timeout=function_timeout,
            max_concurrency=max_concurrency,
            powertools_version=powertools_version,
            powertools_layer_arn=powertools_layer_arn,
            alarm_topic=alarm_topic,
            environment={
                "INVENTORY_TABLE_NAME": self.inventory_table.table_name,
                "ORDERS_TABLE_NAME": self.orders_table.table_name,
            },
            log_retention=log_retention,
            removal_policy=removal_policy,
            deletion_protection=retain_data,
        )
        # The effect, inside the record's transaction (TransactWriteItems is authorized per
        # item): a conditional ADD on the stock (Update: UpdateItem) and a conditional Put
        # of the order row (PutItem). Nothing reads either table.
        self.inventory_table.grant(self.consumer.role, "dynamodb:UpdateItem")
        self.orders_table.grant(self.consumer.role, "dynamodb:PutItem")
        # The charges: SendMessage on the ledger's queue, nothing else of the ledger's (the
        # construct refuses a ledger that forgets sooner than orders can re-send).
        if charges_to is not None:
            self.consumer.send_to(charges_to, environment_variable=CHARGES_QUEUE_ENV)
        if alarm_email is not None:
            subscribe_alarm_email(self.consumer, alarm_email)

        add_outputs(
            self,
            {
                **consumer_outputs(self.consumer, "order"),
                OutputName.INVENTORY_TABLE_NAME: (self.inventory_table.table_name, "stock per SKU"),
                OutputName.ORDERS_TABLE_NAME: (self.orders_table.table_name, "one row per order"),
            },
        )
