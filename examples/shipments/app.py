#!/usr/bin/env python3
"""The CDK app: ``cdk deploy`` creates the queue, its DLQ, the idempotency table, the
effect's tables and the consumer.

Everything that holds data outlives the stack: the construct keeps its idempotency table,
queues and log group by default, and the effect's tables are kept here too. The alarms go
to the construct's own topic: subscribe to ``AlarmTopicArn`` (or pass
``-c alarm_email=you@example.com``).
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from exactly_once_cdk import ExactlyOnceConsumer, consumer_code

SOURCE = Path(__file__).resolve().parent / "src"


class ShipmentsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        totals = self._table("Totals", "warehouse")
        shipments = self._table("Shipments", "shipment_id")
        self.consumer = ExactlyOnceConsumer(
            self,
            "Consumer",
            code=consumer_code(SOURCE),
            handler="shipments.handler.lambda_handler",
            service_name="shipments",
            key_prefix="shipments-v1",
            key_path="shipment_id",
            environment={
                "TOTALS_TABLE_NAME": totals.table_name,
                "SHIPMENTS_TABLE_NAME": shipments.table_name,
            },
        )
        totals.grant(self.consumer.role, "dynamodb:UpdateItem")
        shipments.grant(self.consumer.role, "dynamodb:PutItem")
        CfnOutput(self, "QueueUrl", value=self.consumer.queue.queue_url)
        CfnOutput(self, "DeadLetterQueueUrl", value=self.consumer.dead_letter_queue.queue_url)
        CfnOutput(self, "AlarmTopicArn", value=self.consumer.alarm_topic.topic_arn)
        alarm_email = self.node.try_get_context("alarm_email")
        if alarm_email:
            self.consumer.alarm_topic.add_subscription(
                subscriptions.EmailSubscription(str(alarm_email))
            )

    def _table(self, name: str, key: str) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            name,
            partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # The effect's data, kept like the idempotency table that guards it.
            removal_policy=RemovalPolicy.RETAIN,
            deletion_protection=True,
        )


if __name__ == "__main__":
    app = cdk.App()
    ShipmentsStack(app, "Shipments", env=cdk.Environment(region="eu-west-1"))
    app.synth()
