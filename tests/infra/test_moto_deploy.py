"""The synthesized template deploys into a moto server, and the resources say what it says."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pipeline.moto_server import LocalEndpoint, free_port, moto_server
from pipeline.stack import LocalClients, SynthesizedStack, deploy_template_to_moto
from tests.support.policies import XRAY_ACTIONS

pytestmark = [pytest.mark.infra, pytest.mark.slow]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[LocalEndpoint]:
    with moto_server(free_port()) as running:
        yield running


@pytest.fixture(scope="module")
def deployed(
    endpoint: LocalEndpoint, dev_stack: SynthesizedStack
) -> tuple[dict[str, str], LocalClients]:
    with pytest.warns(UserWarning):  # moto: "alarms and queue policies not supported"
        outputs = deploy_template_to_moto(
            endpoint.url, "dev", stack_name="InfraTestLedger", synthesized=dev_stack
        )
    return outputs, LocalClients(endpoint.url, endpoint.region)


def test_every_output_is_there(deployed: tuple[dict[str, str], LocalClients]) -> None:
    outputs, _ = deployed
    assert set(outputs) == {
        "QueueUrl",
        "QueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "IdempotencyTableName",
        "LedgerTableName",
        "FunctionName",
    }


def test_source_queue_redrives_to_the_dlq(deployed: tuple[dict[str, str], LocalClients]) -> None:
    outputs, clients = deployed
    attributes = clients.client("sqs").get_queue_attributes(
        QueueUrl=outputs["QueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": outputs["DeadLetterQueueArn"],
        "maxReceiveCount": 5,
    }
    assert attributes["VisibilityTimeout"] == "180"
    assert attributes["MessageRetentionPeriod"] == str(4 * 24 * 3600)
    assert attributes["SqsManagedSseEnabled"] == "true"
    dlq = clients.client("sqs").get_queue_attributes(
        QueueUrl=outputs["DeadLetterQueueUrl"], AttributeNames=["MessageRetentionPeriod"]
    )["Attributes"]
    assert dlq["MessageRetentionPeriod"] == str(14 * 24 * 3600)


def test_idempotency_table_has_ttl_enabled(deployed: tuple[dict[str, str], LocalClients]) -> None:
    outputs, clients = deployed
    dynamodb = clients.client("dynamodb")
    ttl = dynamodb.describe_time_to_live(TableName=outputs["IdempotencyTableName"])
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expiration",
    }
    table = dynamodb.describe_table(TableName=outputs["IdempotencyTableName"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


def test_ledger_table_keys(deployed: tuple[dict[str, str], LocalClients]) -> None:
    outputs, clients = deployed
    table = clients.client("dynamodb").describe_table(TableName=outputs["LedgerTableName"])
    assert table["Table"]["KeySchema"] == [
        {"AttributeName": "account_id", "KeyType": "HASH"},
        {"AttributeName": "currency", "KeyType": "RANGE"},
    ]


def test_function_is_configured_for_the_ledger(
    deployed: tuple[dict[str, str], LocalClients],
) -> None:
    outputs, clients = deployed
    function = clients.client("lambda").get_function(FunctionName=outputs["FunctionName"])
    configuration = function["Configuration"]
    assert configuration["Runtime"] == "python3.14"
    assert configuration["Handler"] == "ledger.handler.lambda_handler"
    assert configuration["Timeout"] == 30
    # The runtime package's own layer, created from its asset (moto's functions list no
    # layers: its CloudFormation does not pass them on)
    layers = [layer["LayerName"] for layer in clients.client("lambda").list_layers()["Layers"]]
    assert [name for name in layers if "RuntimeLayer" in name], layers
    variables = configuration["Environment"]["Variables"]
    assert variables["IDEMPOTENCY_TABLE_NAME"] == outputs["IdempotencyTableName"]
    assert variables["LEDGER_TABLE_NAME"] == outputs["LedgerTableName"]
    assert variables["DEAD_LETTER_QUEUE_URL"] == outputs["DeadLetterQueueUrl"]


def test_event_source_mapping_is_there_and_disabled_for_the_local_runtime(
    deployed: tuple[dict[str, str], LocalClients],
) -> None:
    outputs, clients = deployed
    (mapping,) = clients.client("lambda").list_event_source_mappings(
        FunctionName=outputs["FunctionName"]
    )["EventSourceMappings"]
    assert mapping["EventSourceArn"] == outputs["QueueArn"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert mapping["State"] == "Disabled", "moto would invoke, fail and push messages to the DLQ"


def test_role_policy_grants_the_function_its_own_resources_only(
    deployed: tuple[dict[str, str], LocalClients],
) -> None:
    outputs, clients = deployed
    iam = clients.client("iam")
    role_arn = clients.client("lambda").get_function(FunctionName=outputs["FunctionName"])[
        "Configuration"
    ]["Role"]
    role_name = role_arn.rsplit("/", 1)[-1]
    assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    actions = {
        action
        for statement in document["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        *XRAY_ACTIONS,
    }
