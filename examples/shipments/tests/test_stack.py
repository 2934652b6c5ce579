"""The stack, synthesized: the construct's resources, wired to this consumer."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk.assertions import Match, Template

from app import ShipmentsStack


def test_the_consumer_gets_its_tables_and_the_exactly_once_settings() -> None:
    template = Template.from_stack(ShipmentsStack(cdk.App(), "Shipments"))
    template.resource_count_is("AWS::DynamoDB::Table", 3)  # idempotency, totals, shipments
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "shipments.handler.lambda_handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "IDEMPOTENCY_KEY_PREFIX": "shipments-v1",
                        "IDEMPOTENCY_KEY_PATH": "shipment_id",
                        "TOTALS_TABLE_NAME": Match.any_value(),
                        "SHIPMENTS_TABLE_NAME": Match.any_value(),
                    }
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
    )
