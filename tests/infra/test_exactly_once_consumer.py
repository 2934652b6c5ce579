"""The construct's template: what each resource must say for the guarantee to hold."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from exactly_once import Outcome
from exactly_once_cdk import OUTCOME_METRICS, ExactlyOnceConsumer, ExactlyOnceMode
from tests.support.policies import is_xray_statement

from .conftest import build_consumer, consumer_props

pytestmark = pytest.mark.infra

Built = tuple[Template, ExactlyOnceConsumer]


def only(template: Template, resource_type: str, props: dict[str, Any] | None = None) -> Any:
    """The properties of the one resource of ``resource_type`` (matching ``props``)."""
    found = template.find_resources(
        resource_type, {"Properties": props} if props is not None else None
    )
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    return next(iter(found.values()))["Properties"]


def policy_statements(template: Template) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::Policy")
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def actions_on(template: Template, logical_id: str) -> set[str]:
    """Every IAM action granted on the resource with ``logical_id`` (by GetAtt Arn)."""
    granted: set[str] = set()
    for statement in policy_statements(template):
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        if {"Fn::GetAtt": [logical_id, "Arn"]} in resources:
            actions = statement["Action"]
            granted |= set(actions if isinstance(actions, list) else [actions])
    return granted


def logical_id(template: Template, consumer_attr: Any) -> str:
    """The logical id of one of the consumer's resources, found through the stack."""
    stack = consumer_attr.stack
    return str(stack.get_logical_id(consumer_attr.node.default_child))


# --- idempotency table -------------------------------------------------------------------


def test_idempotency_table_is_keyed_by_id_with_ttl_on_expiration(standard_consumer: Built) -> None:
    template, _ = standard_consumer
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


# --- queues ------------------------------------------------------------------------------


def test_source_queue_redrives_to_its_dlq_after_five_receives(standard_consumer: Built) -> None:
    template, consumer = standard_consumer
    dlq_id = logical_id(template, consumer.dead_letter_queue)
    source = only(template, "AWS::SQS::Queue", {"RedrivePolicy": Match.any_value()})
    assert source["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }, "the source queue must redrive to the construct's own DLQ"
    assert source["MessageRetentionPeriod"] == 4 * 24 * 3600
    assert source["VisibilityTimeout"] == 6 * 30, "visibility timeout is 6 x function timeout"


def test_dlq_keeps_messages_longer_than_the_source(standard_consumer: Built) -> None:
    template, consumer = standard_consumer
    dlq = template.to_json()["Resources"][logical_id(template, consumer.dead_letter_queue)]
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert "RedrivePolicy" not in dlq["Properties"], "the DLQ itself redrives nowhere"


def test_both_queues_are_encrypted_and_refuse_plain_http(standard_consumer: Built) -> None:
    template, _ = standard_consumer
    queues = template.find_resources("AWS::SQS::Queue")
    assert len(queues) == 2
    for name, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, f"{name} has no SSE"
    policies = template.find_resources("AWS::SQS::QueuePolicy")
    assert len(policies) == 2, "each queue needs its own SSL-only policy"
    for policy in policies.values():
        statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
        assert statement["Effect"] == "Deny"
        assert statement["Action"] == "sqs:*"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_fifo_source_gets_a_fifo_dlq_and_no_batching_window(fifo_consumer: Built) -> None:
    template, _ = fifo_consumer
    queues = template.find_resources("AWS::SQS::Queue")
    assert [q["Properties"].get("FifoQueue") for q in queues.values()] == [True, True]
    mapping = only(template, "AWS::Lambda::EventSourceMapping")
    assert "MaximumBatchingWindowInSeconds" not in mapping
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


# --- function ----------------------------------------------------------------------------


def test_function_runs_newest_python_with_matching_powertools_layer(
    standard_consumer: Built,
) -> None:
    template, consumer = standard_consumer
    function = only(template, "AWS::Lambda::Function")
    assert function["Runtime"] == "python3.14"
    assert function["Architectures"] == ["arm64"]
    assert function["Timeout"] == 30
    assert function["MemorySize"] == 512
    # The layer's ARN: AWS's public SSM parameter for this Python, architecture and the
    # pinned Powertools release, resolved by CloudFormation at deploy time.
    parameter_ref, runtime_layer = function["Layers"]
    assert runtime_layer == {"Ref": logical_id(template, consumer.runtime_layer)}
    parameter = template.to_json()["Parameters"][parameter_ref["Ref"]]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/aws/service/powertools/python/arm64/python3.14/3.37.0",
    }


def test_the_runtime_package_is_a_layer_of_its_own(standard_consumer: Built) -> None:
    template, consumer = standard_consumer
    layer = only(template, "AWS::Lambda::LayerVersion")
    assert layer["CompatibleRuntimes"] == ["python3.14"]
    assert set(layer["Content"]) == {"S3Bucket", "S3Key"}, "an asset, staged from the package"
    assert consumer.runtime_layer.node.id == "RuntimeLayer"


def test_function_environment_carries_the_protocol_settings(standard_consumer: Built) -> None:
    template, consumer = standard_consumer
    variables = only(template, "AWS::Lambda::Function")["Environment"]["Variables"]
    assert variables["IDEMPOTENCY_TABLE_NAME"] == {
        "Ref": logical_id(template, consumer.idempotency_table)
    }
    assert variables["DEAD_LETTER_QUEUE_URL"] == {
        "Ref": logical_id(template, consumer.dead_letter_queue)
    }
    assert variables["IDEMPOTENCY_KEY_PREFIX"] == "orders-v1"
    assert variables["IDEMPOTENCY_KEY_PATH"] == "order_id"
    # source 4 days + DLQ 14 days + margin 1 day
    assert variables["IDEMPOTENCY_RETENTION_SECONDS"] == str(19 * 24 * 3600)
    assert variables["LEASE_MAX_SECONDS"] == "30"
    assert variables["EXACTLY_ONCE_MODE"] == "atomic"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "orders"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "ExactlyOnce"


def test_function_logs_to_its_own_log_group_with_retention(standard_consumer: Built) -> None:
    template, consumer = standard_consumer
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    function = only(template, "AWS::Lambda::Function")
    assert function["LoggingConfig"] == {
        "LogGroup": {"Ref": logical_id(template, consumer.log_group)}
    }
    role = only(template, "AWS::IAM::Role")
    assert "ManagedPolicyArns" not in role, "no AWS managed policy on the role"


# --- least privilege ---------------------------------------------------------------------


def test_function_gets_exactly_the_actions_the_runtime_calls(standard_consumer: Built) -> None:
    template, consumer = standard_consumer
    # Atomic mode: the record is a Put in the effect's transaction; no lease to update.
    assert actions_on(template, logical_id(template, consumer.idempotency_table)) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    }
    assert actions_on(template, logical_id(template, consumer.dead_letter_queue)) == {
        "sqs:SendMessage"
    }
    assert actions_on(template, logical_id(template, consumer.queue)) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    assert actions_on(template, logical_id(template, consumer.log_group)) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_leased_mode_may_only_update_its_records() -> None:
    # Acquire, complete and release are conditional updates that return the old record.
    stack, consumer = build_consumer(mode=ExactlyOnceMode.LEASED)
    template = Template.from_stack(stack)
    assert actions_on(template, logical_id(template, consumer.idempotency_table)) == {
        "dynamodb:UpdateItem"
    }


def test_no_statement_uses_a_wildcard(standard_consumer: Built) -> None:
    template, _ = standard_consumer
    for statement in policy_statements(template):
        if is_xray_statement(statement):
            continue  # tracing: X-Ray takes no resource-level permissions
        actions = statement["Action"]
        for action in actions if isinstance(actions, list) else [actions]:
            assert "*" not in action, f"wildcard action {action}"
        assert statement["Resource"] != "*", f"wildcard resource in {statement}"


# --- event source mapping ----------------------------------------------------------------


def test_mapping_reports_batch_item_failures_with_bounded_concurrency(
    standard_consumer: Built,
) -> None:
    template, consumer = standard_consumer
    mapping = only(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10
    assert mapping["MaximumBatchingWindowInSeconds"] == 1
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert mapping["EventSourceArn"] == {
        "Fn::GetAtt": [logical_id(template, consumer.queue), "Arn"]
    }


def test_mapping_waits_for_the_role_policy(standard_consumer: Built) -> None:
    template, _ = standard_consumer
    mappings = template.find_resources("AWS::Lambda::EventSourceMapping")
    depends_on = next(iter(mappings.values())).get("DependsOn", [])
    policies = template.find_resources("AWS::IAM::Policy")
    assert set(policies) <= set(depends_on), "created before its queue permissions exist"


# --- alarms and dashboard ----------------------------------------------------------------


def test_alarms_on_dead_letters_message_age_and_function_errors(standard_consumer: Built) -> None:
    template, consumer = standard_consumer
    template.resource_count_is("AWS::CloudWatch::Alarm", 4)
    # Each new dead letter: sent to the DLQ in the last minute, not the standing count
    (dead_letters,) = template.find_resources(
        "AWS::CloudWatch::Alarm",
        {"Properties": {"MetricName": "NumberOfMessagesSent"}},
    ).values()
    assert dead_letters["Properties"] | {"AlarmActions": None, "AlarmDescription": None} == {
        "MetricName": "NumberOfMessagesSent",
        "Namespace": "AWS/SQS",
        "Dimensions": [
            {
                "Name": "QueueName",
                "Value": {
                    "Fn::GetAtt": [logical_id(template, consumer.dead_letter_queue), "QueueName"]
                },
            }
        ],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": None,
        "AlarmDescription": None,
    }
    # And the ones SQS moves itself (not in NumberOfMessagesSent): the DLQ's depth rising
    # within a minute, a fall (a redrive) clipped to zero
    moved = consumer.alarms["dead_letters_moved"].node.default_child
    (moved_alarm,) = [
        a
        for k, a in template.find_resources("AWS::CloudWatch::Alarm").items()
        if k == Stack.of(consumer).get_logical_id(moved)
    ]
    expression, depth = moved_alarm["Properties"]["Metrics"]
    assert expression["Expression"] == "IF(DIFF(FILL(depth, 0)) > 0, DIFF(FILL(depth, 0)), 0)"
    # (an idle DLQ publishes nothing: the first dead letter counts as a rise from zero)
    assert moved_alarm["Properties"]["EvaluationPeriods"] == 2
    assert moved_alarm["Properties"]["DatapointsToAlarm"] == 1
    assert depth["Id"] == "depth"
    assert depth["MetricStat"]["Metric"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert depth["MetricStat"]["Metric"]["Dimensions"] == dead_letters["Properties"]["Dimensions"]
    assert (depth["MetricStat"]["Period"], depth["MetricStat"]["Stat"]) == (60, "Maximum")
    assert moved_alarm["Properties"]["Threshold"] == 1
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        # visibility timeout 180 s x 5 receives: the longest a message legitimately waits
        {"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": 900},
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "Sum", "Threshold": 1},
    )


def test_every_alarm_goes_to_the_constructs_own_topic_by_default(
    standard_consumer: Built,
) -> None:
    template, consumer = standard_consumer
    topic_id = logical_id(template, consumer.alarm_topic)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 4
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}], name


def test_the_own_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use_and_ssl_only(
    standard_consumer: Built,
) -> None:
    template, consumer = standard_consumer
    topic = only(template, "AWS::SNS::Topic")
    (key_id,) = template.find_resources("AWS::KMS::Key")
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key = template.to_json()["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        statement
        for statement in key["KeyPolicy"]["Statement"]
        if statement.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert [sorted(s["Action"]) for s in cloudwatch] == [["kms:Decrypt", "kms:GenerateDataKey*"]]
    policy = only(template, "AWS::SNS::TopicPolicy")
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Topics"] == [{"Ref": logical_id(template, consumer.alarm_topic)}]


def test_a_topic_passed_in_takes_every_alarm_and_no_topic_is_made() -> None:
    # GIVEN a consumer whose alarms notify the team's pager topic
    stack = Stack(App(), "TestStack")
    topic = sns.Topic(stack, "Pager", enforce_ssl=True)
    consumer = ExactlyOnceConsumer(stack, "Consumer", **consumer_props(alarm_topic=topic))
    template = Template.from_stack(stack)
    topic_id = stack.get_logical_id(topic.node.default_child)  # type: ignore[arg-type]
    assert consumer.alarm_topic is topic
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.resource_count_is("AWS::KMS::Key", 0)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 4
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}], name


def test_dashboard_graphs_every_outcome_the_consumer_emits(standard_consumer: Built) -> None:
    template, _ = standard_consumer
    body = str(only(template, "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for outcome in OUTCOME_METRICS:
        assert f'"ExactlyOnce","{outcome}","service","orders"' in body, f"{outcome} not graphed"


def test_outcome_metrics_are_the_runtimes_outcomes_in_their_order() -> None:
    # The construct may not import the runtime package: the list is a copy, kept in step here.
    assert tuple(outcome.value for outcome in Outcome) == OUTCOME_METRICS
    assert OUTCOME_METRICS.index("refused") == OUTCOME_METRICS.index("invalid") + 1


def test_resources_are_exposed_as_attributes(standard_consumer: Built) -> None:
    _, consumer = standard_consumer
    assert consumer.queue is not None and consumer.dead_letter_queue is not None
    assert consumer.function.node.id == "Function"
    assert set(consumer.alarms) == {
        "dead_letters",
        "dead_letters_moved",
        "oldest_message_age",
        "function_errors",
    }
    assert consumer.alarm_topic is not None
    assert consumer.timings.redelivery_window == 19 * 24 * 3600
