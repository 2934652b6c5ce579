"""The operator commands on any consumer the construct built, not only the ledger's.

On one local cloud: the repository's orders stack (``ExactlyOnceOrders-dev``, its
consumer found from the template's ``aws:cdk:path`` metadata), a stack with two
consumer-shaped constructs (queues and tables only, created straight through
CloudFormation), and a stack that names its consumer by outputs only. The discovery
itself is also checked on templates alone, without a cloud.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from exactly_once_local.local_cloud import LocalCloud
from exactly_once_local.local_cloud import start_local_cloud as start_app_cloud
from exactly_once_local.moto_deploy import LocalClients
from exactly_once_local.moto_server import free_port
from pipeline.local_cloud import app_assembly
from pipeline.ops.errors import ExitCode, OpsError, TargetNotFound
from pipeline.ops.targets import (
    Target,
    choose_consumer,
    consumer_from_outputs,
    consumers_in_template,
)
from tests.support.cli import Cli

ORDERS = "ExactlyOnceOrders-dev"
TWO = "TwoConsumers"
OUTPUTS_ONLY = "OutputsOnly"


# --- discovery from a template, no cloud --------------------------------------------------


def _consumer_resources(
    prefix: str, logical: str, *, table_type: str = "AWS::DynamoDB::Table"
) -> dict[str, Any]:
    """A consumer's children as the construct synthesizes them (``prefix`` its path)."""
    return {
        f"{logical}Dlq": {
            "Type": "AWS::SQS::Queue",
            "Metadata": {"aws:cdk:path": f"{prefix}/DeadLetterQueue/Resource"},
        },
        f"{logical}Queue": {
            "Type": "AWS::SQS::Queue",
            "Metadata": {"aws:cdk:path": f"{prefix}/Queue/Resource"},
        },
        f"{logical}Table": {
            "Type": table_type,
            "Metadata": {"aws:cdk:path": f"{prefix}/IdempotencyTable/Resource"},
        },
    }


def test_consumers_are_found_by_their_construct_path() -> None:
    template = {
        "Resources": {
            **_consumer_resources("S/Billing", "B"),
            **_consumer_resources("S/Nested/Refunds", "R"),
            "BFunction": {
                "Type": "AWS::Lambda::Function",
                "Metadata": {"aws:cdk:path": "S/Billing/Function/Resource"},
            },
            "BAlarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Metadata": {"aws:cdk:path": "S/Billing/DeadLetterSent/Resource"},
            },
            # Not a consumer: a queue pair without a table, and a table of the wrong type.
            **{k: v for k, v in _consumer_resources("S/Half", "H").items() if "Table" not in k},
            **_consumer_resources("S/Odd", "O", table_type="AWS::SQS::Queue"),
        }
    }
    physical = {
        logical: f"id-{logical}"
        for logical in template["Resources"]
        if logical != "RTable"  # not deployed: that consumer is skipped
    }

    found = consumers_in_template(template, physical)
    assert [c.path for c in found] == ["S/Billing"]
    (billing,) = found
    assert billing.queue_url == "id-BQueue"
    assert billing.dead_letter_queue_url == "id-BDlq"
    assert billing.idempotency_table_name == "id-BTable"
    assert billing.function_name == "id-BFunction"
    assert billing.alarm_names == ("id-BAlarm",)

    physical["RTable"] = "id-RTable"
    found = consumers_in_template(template, physical)
    assert [c.path for c in found] == ["S/Billing", "S/Nested/Refunds"]
    assert found[1].function_name is None


def test_choosing_a_consumer() -> None:
    template = {
        "Resources": {
            **_consumer_resources("S/Billing", "B"),
            **_consumer_resources("S/Nested/Refunds", "R"),
        }
    }
    found = consumers_in_template(template, {k: k for k in template["Resources"]})

    with pytest.raises(OpsError) as ambiguous:
        choose_consumer("S", found, None)
    assert ambiguous.value.exit_code == ExitCode.USAGE
    assert str(ambiguous.value) == (
        "stack S has 2 consumers: pass --consumer with one of Billing, Nested/Refunds"
    )
    for choice in ("S/Nested/Refunds", "Nested/Refunds", "Refunds", "/Refunds/"):
        assert choose_consumer("S", found, choice).path == "S/Nested/Refunds"
    with pytest.raises(TargetNotFound, match="no consumer Nope: its consumers are Billing"):
        choose_consumer("S", found, "Nope")
    assert choose_consumer("S", found[:1], None).path == "S/Billing"
    with pytest.raises(TargetNotFound, match="stack S has no ExactlyOnceConsumer"):
        choose_consumer("S", [], None)


def test_a_consumer_named_by_outputs_only() -> None:
    outputs = {"QueueUrl": "q", "DeadLetterQueueUrl": "d", "IdempotencyTableName": "t"}
    found = consumer_from_outputs("S", outputs)
    assert found is not None and found.from_outputs and found.function_name is None
    assert consumer_from_outputs("S", {"QueueUrl": "q"}) is None


class _NoTemplateAccess:
    """CloudFormation for an operator allowed DescribeStacks but not GetTemplate."""

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        outputs = {"QueueUrl": "q", "DeadLetterQueueUrl": "d", "IdempotencyTableName": "t"}
        return {
            "Stacks": [
                {"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}
            ]
        }

    def get_template(self, StackName: str) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetTemplate")


def test_without_get_template_access_the_outputs_name_the_consumer() -> None:
    target = Target(
        stack_name="S",
        endpoint_url=None,
        session=SimpleNamespace(region_name="eu-west-1"),
        _clients={"cloudformation": _NoTemplateAccess()},
    )
    assert target.consumer.from_outputs
    assert (target.consumer.queue_url, target.consumer.dead_letter_queue_url) == ("q", "d")
    assert target.consumer_label == "(from the stack's outputs)"


# --- on the local cloud ---------------------------------------------------------------------


def _queue(name: str, path: str, dlq_logical: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"QueueName": name}
    if dlq_logical is not None:
        properties["RedrivePolicy"] = {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq_logical, "Arn"]},
            "maxReceiveCount": 3,
        }
    resource: dict[str, Any] = {"Type": "AWS::SQS::Queue", "Properties": properties}
    if path:
        resource["Metadata"] = {"aws:cdk:path": path}
    return resource


def _table(name: str, path: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        },
    }
    if path:
        resource["Metadata"] = {"aws:cdk:path": path}
    return resource


def _consumer_template(stack: str, name: str, path: str | None) -> dict[str, Any]:
    """Queues and table of one consumer, with construct paths (or none: ``path`` None)."""

    def at(child: str) -> str:
        return f"{stack}/{path}/{child}/Resource" if path is not None else ""

    return {
        f"{name}Dlq": _queue(f"{stack}-{name}-dlq", at("DeadLetterQueue")),
        f"{name}Queue": _queue(f"{stack}-{name}-queue", at("Queue"), f"{name}Dlq"),
        f"{name}Table": _table(f"{stack}-{name}-records", at("IdempotencyTable")),
    }


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    """The orders stack, polled; and two stacks of queues and tables only, not polled."""
    running = start_app_cloud(app_assembly("dev"), free_port(), stacks=[ORDERS])
    try:
        cloudformation = _client(running, "cloudformation")
        two = {
            **_consumer_template(TWO, "Billing", "Billing"),
            **_consumer_template(TWO, "Refunds", "Nested/Refunds"),
        }
        cloudformation.create_stack(StackName=TWO, TemplateBody=json.dumps({"Resources": two}))
        only = _consumer_template(OUTPUTS_ONLY, "Only", None)
        outputs = {
            "QueueUrl": {"Value": {"Ref": "OnlyQueue"}},
            "DeadLetterQueueUrl": {"Value": {"Ref": "OnlyDlq"}},
            "IdempotencyTableName": {"Value": {"Ref": "OnlyTable"}},
        }
        cloudformation.create_stack(
            StackName=OUTPUTS_ONLY,
            TemplateBody=json.dumps({"Resources": only, "Outputs": outputs}),
        )
        yield running
    finally:
        running.stop()


@pytest.fixture
def cli(cloud: LocalCloud, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(cloud, capsys)


def _client(cloud: LocalCloud, service: str) -> Any:
    return LocalClients(cloud.endpoint_url, cloud.endpoint.region).client(service)


def _queue_url(cloud: LocalCloud, name: str) -> str:
    return str(_client(cloud, "sqs").get_queue_url(QueueName=name)["QueueUrl"])


@pytest.mark.local
@pytest.mark.slow
def test_orders_out_of_stock_dead_letter_listed_redriven_and_inspected(cli: Cli) -> None:
    orders = cli.cloud.stacks[ORDERS].outputs
    sqs, dynamodb = _client(cli.cloud, "sqs"), _client(cli.cloud, "dynamodb")
    # GIVEN an order for a SKU with no stock (the inventory is empty at start)
    order = {
        "order_id": "ops-o-1",
        "sku": "ops-sku-1",
        "quantity": 2,
        "customer_id": "ops-customer-1",
        "unit_price_cents": 250,
    }
    sqs.send_message(QueueUrl=orders["QueueUrl"], MessageBody=json.dumps(order))
    assert cli.cloud.wait_until_empty(timeout_seconds=180), "orders queue not drained"

    # WHEN status is asked for the orders stack
    assert cli("status", "--stack", ORDERS) == 0, cli.err
    # THEN it shows its consumer's depths and the dead letter
    assert f"stack {ORDERS} at {cli.cloud.endpoint_url}" in cli.out
    assert "  consumer      Consumer" in cli.out
    assert "queue         0 waiting, 0 in flight, 0 delayed" in cli.out
    assert "DLQ           1 messages, oldest" in cli.out
    assert cli("status", "--stack", ORDERS, "--consumer", f"{ORDERS}/Consumer", "--json") == 0
    status = json.loads(cli.out)
    assert status["consumer"] == "Consumer" and status["dlq_depth"] == 1

    # AND dlq list shows it with the consumer's reason, by its order id
    assert cli("dlq", "list", "--stack", ORDERS) == 0, cli.err
    assert "1 messages in the DLQ" in cli.out
    assert "order_id ops-o-1" in cli.out
    assert "refused: out of stock: fewer than 2 of ops-sku-1 left" in cli.out
    assert cli("dlq", "list", "--stack", ORDERS, "--json") == 0
    letter = json.loads(cli.out)
    assert (letter["key_path"], letter["key"], letter["outcome"]) == (
        "order_id",
        "ops-o-1",
        "refused",
    )
    assert letter["transaction_id"] == "", "only a ledger's key is a transaction id"

    # WHEN the stock arrives and the DLQ is redriven
    dynamodb.put_item(
        TableName=orders["InventoryTableName"],
        Item={"sku": {"S": "ops-sku-1"}, "stock": {"N": "5"}},
    )
    assert cli("dlq", "redrive", "--stack", ORDERS) == 0, cli.err
    assert f"redriven 1 messages from the DLQ to {orders['QueueUrl']}" in cli.out
    assert cli.cloud.wait_until_empty(timeout_seconds=180), "orders queue not drained"

    # THEN the order is taken once, the DLQ is empty, and inspect finds its record
    assert cli("status", "--stack", ORDERS, "--json") == 0
    assert json.loads(cli.out)["dlq_depth"] == 0
    stock = dynamodb.get_item(
        TableName=orders["InventoryTableName"],
        Key={"sku": {"S": "ops-sku-1"}},
        ConsistentRead=True,
    )["Item"]
    assert int(stock["stock"]["N"]) == 3
    assert cli("inspect", "ops-o-1", "--stack", ORDERS) == 0, cli.err
    digest = hashlib.sha256(b"ops-o-1").hexdigest()
    assert "order_id ops-o-1" in cli.out
    assert f"record id      orders-v1#{digest}" in cli.out
    assert "status         COMPLETED" in cli.out
    assert cli("inspect", "ops-never-sent", "--stack", ORDERS) == 1
    assert "NOT PROCESSED" in cli.out


@pytest.mark.local
@pytest.mark.slow
def test_send_and_verify_refuse_a_consumer_that_is_not_a_ledger(cli: Cli, tmp_path: Any) -> None:
    expected = (
        "works on ledger consumers only, and consumer Consumer of stack "
        f"{ORDERS} is not one (its function has no LEDGER_TABLE_NAME): status, dlq and "
        "inspect work on any consumer"
    )
    sent_log = tmp_path / "sent.jsonl"
    assert cli("send", "--count", "3", "--stack", ORDERS, "--sent-log", str(sent_log)) == 2
    assert cli.err.splitlines() == [f"pipeline: error: send {expected}"]
    assert not sent_log.exists(), "nothing may be sent to a consumer that is not a ledger"

    body = json.dumps(
        {"transaction_id": "t-1", "account_id": "a", "amount": "1.00", "currency": "EUR"}
    )
    sent_log.write_text(json.dumps({"body": body}) + "\n")
    assert cli("verify", "--sent-log", str(sent_log), "--stack", ORDERS) == 2
    assert cli.err.splitlines() == [f"pipeline: error: verify {expected}"]


@pytest.mark.local
@pytest.mark.slow
def test_a_stack_with_two_consumers_needs_consumer(cli: Cli) -> None:
    # WHEN no consumer is chosen THEN one line lists them (exit 2)
    for command in (["status"], ["dlq", "list"], ["dlq", "redrive"], ["inspect", "k-1"]):
        assert cli(*command, "--stack", TWO) == 2, command
        assert cli.err.splitlines() == [
            f"pipeline: error: stack {TWO} has 2 consumers: pass --consumer with one of "
            "Billing, Nested/Refunds"
        ]
    # AND a consumer that is not there is named with the ones that are (exit 4)
    assert cli("status", "--stack", TWO, "--consumer", "Nope") == 4
    assert cli.err.splitlines() == [
        f"pipeline: error: stack {TWO} has no consumer Nope: its consumers are Billing, "
        "Nested/Refunds"
    ]

    # GIVEN a dead letter in the Refunds consumer's DLQ only
    sqs = _client(cli.cloud, "sqs")
    refunds_dlq = _queue_url(cli.cloud, f"{TWO}-Refunds-dlq")
    sqs.send_message(QueueUrl=refunds_dlq, MessageBody=json.dumps({"transaction_id": "r-1"}))

    # THEN each consumer's commands see its own queues, by id or by path
    assert cli("status", "--stack", TWO, "--consumer", "Refunds") == 0, cli.err
    assert "  consumer      Nested/Refunds" in cli.out
    assert "DLQ           1 messages" in cli.out
    assert "alarms        none at this endpoint" in cli.out
    assert cli("status", "--stack", TWO, "--consumer", "Billing") == 0, cli.err
    assert "DLQ           0 messages" in cli.out
    assert cli("dlq", "list", "--stack", TWO, "--consumer", f"{TWO}/Nested/Refunds") == 0
    assert f"1 messages in the DLQ {refunds_dlq}" in cli.out
    assert "moved by SQS after maxReceiveCount (no reason attached)" in cli.out
    assert "transaction r-1" in cli.out  # no function: the default key path

    # AND redrive moves it to the Refunds source queue (nothing polls it here)
    assert cli("dlq", "redrive", "--stack", TWO, "--consumer", "Nested/Refunds") == 0, cli.err
    refunds_queue = _queue_url(cli.cloud, f"{TWO}-Refunds-queue")
    assert f"redriven 1 messages from the DLQ to {refunds_queue}" in cli.out
    assert cli("status", "--stack", TWO, "--consumer", "Refunds", "--json") == 0
    status = json.loads(cli.out)
    assert (status["queue_visible"], status["dlq_depth"]) == (1, 0)

    # AND inspect needs the consumer's function (its key prefix): one line, exit 4
    assert cli("inspect", "k-1", "--stack", TWO, "--consumer", "Billing") == 4
    assert cli.err.splitlines() == [
        f"pipeline: error: consumer {TWO}/Billing of stack {TWO} has no function (no "
        "Function child, no FunctionName output)"
    ]


@pytest.mark.local
@pytest.mark.slow
def test_a_stack_naming_its_consumer_by_outputs(cli: Cli) -> None:
    dlq = _queue_url(cli.cloud, f"{OUTPUTS_ONLY}-Only-dlq")
    _client(cli.cloud, "sqs").send_message(QueueUrl=dlq, MessageBody="stuck")

    assert cli("status", "--stack", OUTPUTS_ONLY) == 0, cli.err
    assert "  consumer      (from the stack's outputs)" in cli.out
    assert "DLQ           1 messages" in cli.out
    assert cli("dlq", "purge", "--stack", OUTPUTS_ONLY, "--yes") == 0, cli.err
    assert f"purged the DLQ {dlq} (1 messages)" in cli.out
