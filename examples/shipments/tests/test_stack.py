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


def test_the_data_outlives_the_stack() -> None:
    # The construct's defaults keep the idempotency table, queues and log group; the
    # effect's tables are kept too: deleting the stack loses no data.
    template = Template.from_stack(ShipmentsStack(cdk.App(), "Shipments")).to_json()
    kept = ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Logs::LogGroup")
    resources = [r for r in template["Resources"].values() if r["Type"] in kept]
    assert len(resources) == 6  # three tables, two queues, the log group
    for resource in resources:
        assert resource["DeletionPolicy"] == "Retain", resource["Type"]
        assert resource["UpdateReplacePolicy"] == "Retain", resource["Type"]
        if resource["Type"] == "AWS::DynamoDB::Table":
            assert resource["Properties"]["DeletionProtectionEnabled"] is True


def test_every_alarm_goes_to_the_alarm_topic() -> None:
    stack = ShipmentsStack(cdk.App(context={"alarm_email": "oncall@example.com"}), "Shipments")
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 4
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
