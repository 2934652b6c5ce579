"""bench/deployment.py copies the construct's defaults; they must still be the construct's."""

from __future__ import annotations

import os

import pytest

from bench import deployment


@pytest.mark.slow
def test_bench_deployment_matches_the_constructs_defaults() -> None:
    # GIVEN a consumer built with the construct's defaults (aws_cdk loads in a few seconds)
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from exactly_once_cdk import ExactlyOnceConsumer

    stack = Stack(App(), "BenchDeployment")
    consumer = ExactlyOnceConsumer(
        stack,
        "Consumer",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
        handler="index.handler",
        service_name="bench",
        key_prefix="bench-v1",
        key_path="transaction_id",
    )

    # WHEN its function and source queue are read from the template
    template = Template.from_stack(stack)
    functions = template.find_resources("AWS::Lambda::Function")
    ((_, function),) = functions.items()
    properties = function["Properties"]

    # THEN memory, architecture and every retention are the ones the bench prices
    assert properties["MemorySize"] == deployment.LAMBDA_MEMORY_MB
    assert properties["Architectures"] == [deployment.LAMBDA_ARCHITECTURE]
    timings = consumer.timings
    assert timings.source_retention == deployment.SOURCE_RETENTION_SECONDS
    assert timings.dead_letter_retention == deployment.DEAD_LETTER_RETENTION_SECONDS
    assert timings.redelivery_margin == deployment.REDELIVERY_MARGIN_SECONDS
    assert timings.idempotency_retention == deployment.IDEMPOTENCY_RETENTION_SECONDS == 1_641_600
    environment = properties["Environment"]["Variables"]
    assert environment["IDEMPOTENCY_RETENTION_SECONDS"] == str(
        deployment.IDEMPOTENCY_RETENTION_SECONDS
    )
    # AND the source queue dead-letters after the receives the refusal row counts
    (redrive,) = [
        queue["Properties"]["RedrivePolicy"]
        for queue in template.find_resources("AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue["Properties"]
    ]
    assert redrive["maxReceiveCount"] == deployment.MAX_RECEIVE_COUNT
