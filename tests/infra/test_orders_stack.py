"""The app's orders stack: outputs, tables, environment, grants (read and recorded), the gates
(cdk-nag, cfn-lint), and the app that now holds two stacks per stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from app import STAGES, add_ledger_stack, add_orders_stack, add_stacks
from infra import CONSUMER_OUTPUTS, LedgerStack, OrdersStack, OutputName
from pipeline.stack import ROOT, SynthesizedStack
from tests.support.policies import (
    OTHER_STACK,
    POLLER,
    SQS_ACTIONS,
    TRANSACT_ITEM_ACTIONS,
    as_list,
    granted_actions,
)

pytestmark = pytest.mark.infra

INVENTORY_KEY = [{"AttributeName": "sku", "KeyType": "HASH"}]
ORDERS_KEY = [{"AttributeName": "order_id", "KeyType": "HASH"}]


def table_id(template: Template, key_schema: list[dict[str, str]]) -> str:
    """The logical id of the one table with ``key_schema``."""
    (logical_id,) = template.find_resources(
        "AWS::DynamoDB::Table", {"Properties": {"KeySchema": key_schema}}
    )
    return logical_id


def actions_on(template: Template, logical_id: str) -> list[str]:
    """Every action the consumer's policy grants on the resource ``logical_id``."""
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    return sorted(
        action
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if {"Fn::GetAtt": [logical_id, "Arn"]} in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
    )


# --- the template ---------------------------------------------------------------------


def test_outputs_have_the_stable_names_and_no_exports(orders_dev_template: Template) -> None:
    outputs = orders_dev_template.to_json()["Outputs"]
    assert set(outputs) == {name.value for name in OrdersStack.OUTPUTS}
    assert {OutputName.INVENTORY_TABLE_NAME, OutputName.ORDERS_TABLE_NAME} <= set(
        OrdersStack.OUTPUTS
    )
    for name, output in outputs.items():
        assert "Export" not in output, f"{name} is exported; nothing may pin it"


def test_outputs_shared_with_the_ledger_name_the_same_things(
    orders_dev_stack: SynthesizedStack, dev_stack: SynthesizedStack
) -> None:
    # An id means the same in both stacks: the same kind of resource, the same attribute.
    def meaning(stack: SynthesizedStack, name: OutputName) -> tuple[str, Any]:
        value = stack.template["Outputs"][name.value]["Value"]
        if "Ref" in value:
            return stack.template["Resources"][value["Ref"]]["Type"], "Ref"
        target, attribute = value["Fn::GetAtt"]
        return stack.template["Resources"][target]["Type"], attribute

    assert set(CONSUMER_OUTPUTS) <= set(LedgerStack.OUTPUTS) & set(OrdersStack.OUTPUTS)
    for name in CONSUMER_OUTPUTS:
        assert meaning(orders_dev_stack, name) == meaning(dev_stack, name), name
    orders = orders_dev_stack.template["Outputs"]
    for name, key in (
        (OutputName.INVENTORY_TABLE_NAME, INVENTORY_KEY),
        (OutputName.ORDERS_TABLE_NAME, ORDERS_KEY),
    ):
        target = orders[name.value]["Value"]["Ref"]
        assert orders_dev_stack.template["Resources"][target]["Properties"]["KeySchema"] == key


def test_inventory_and_orders_tables_are_keyed_by_sku_and_order_id(
    orders_dev_template: Template,
) -> None:
    orders_dev_template.resource_count_is("AWS::DynamoDB::Table", 3)  # with the idempotency one
    for key in (INVENTORY_KEY, ORDERS_KEY):
        orders_dev_template.has_resource_properties(
            "AWS::DynamoDB::Table",
            {
                "KeySchema": key,
                "AttributeDefinitions": [
                    {"AttributeName": key[0]["AttributeName"], "AttributeType": "S"}
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            },
        )


def test_function_runs_the_orders_handler_with_both_tables(orders_dev_template: Template) -> None:
    inventory = table_id(orders_dev_template, INVENTORY_KEY)
    orders = table_id(orders_dev_template, ORDERS_KEY)
    orders_dev_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "orders.handler.lambda_handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "INVENTORY_TABLE_NAME": {"Ref": inventory},
                        "ORDERS_TABLE_NAME": {"Ref": orders},
                        "IDEMPOTENCY_KEY_PREFIX": "orders-v1",
                        "IDEMPOTENCY_KEY_PATH": "order_id",
                        "EXACTLY_ONCE_MODE": "atomic",
                        "POWERTOOLS_SERVICE_NAME": "orders",
                    }
                )
            },
        },
    )


def test_function_may_only_update_stock_and_put_orders(orders_dev_template: Template) -> None:
    # TransactWriteItems is authorized per item: the stock's Update, the order's Put.
    assert actions_on(orders_dev_template, table_id(orders_dev_template, INVENTORY_KEY)) == [
        "dynamodb:UpdateItem"
    ]
    assert actions_on(orders_dev_template, table_id(orders_dev_template, ORDERS_KEY)) == [
        "dynamodb:PutItem"
    ]


def test_dev_deletes_its_data_with_the_stack(orders_dev_template: Template) -> None:
    for name, table in orders_dev_template.find_resources("AWS::DynamoDB::Table").items():
        assert table["DeletionPolicy"] == "Delete", name
        assert table["Properties"].get("DeletionProtectionEnabled") is False, name


def test_prod_keeps_its_tables_when_the_stack_is_deleted(orders_prod_template: Template) -> None:
    tables = orders_prod_template.find_resources("AWS::DynamoDB::Table")
    assert len(tables) == 3
    for name, table in tables.items():
        assert table["DeletionPolicy"] == "Retain", name
        assert table["UpdateReplacePolicy"] == "Retain", name
        assert table["Properties"]["DeletionProtectionEnabled"] is True, name
    for name, queue in orders_prod_template.find_resources("AWS::SQS::Queue").items():
        assert queue["DeletionPolicy"] == "Retain", name


def test_stage_values_are_the_ledgers(
    orders_dev_template: Template, orders_prod_template: Template
) -> None:
    for template, concurrency, stage in (
        (orders_dev_template, 2, "dev"),
        (orders_prod_template, 10, "prod"),
    ):
        template.has_resource_properties(
            "AWS::Lambda::EventSourceMapping",
            {"ScalingConfig": {"MaximumConcurrency": concurrency}},
        )
        tags = [{"Key": "project", "Value": "exactly-once-sqs"}, {"Key": "stage", "Value": stage}]
        for name, table in template.find_resources("AWS::DynamoDB::Table").items():
            assert table["Properties"]["Tags"] == tags, name
        assert template.to_json()["Description"] == f"Exactly-once SQS orders pipeline ({stage})"


def test_shares_the_ledgers_asset(
    orders_dev_stack: SynthesizedStack, dev_stack: SynthesizedStack
) -> None:
    # One functions/ directory and one runtime layer, the same assets in both stacks:
    # `cdk deploy --all` uploads each once.
    hashes = sorted(a.asset_hash for a in orders_dev_stack.assets)
    assert len(hashes) == 2
    assert hashes == sorted(a.asset_hash for a in dev_stack.assets)
    shipped = {
        p.relative_to(asset.source_path).as_posix()
        for asset in orders_dev_stack.assets
        for p in asset.source_path.rglob("*")
    }
    assert {"orders/handler.py", "orders/effect.py", "python/exactly_once/atomic.py"} <= shipped


# --- the gates ------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cdk_nag_finds_nothing_and_acknowledges_nothing(
    stage: str, orders_dev_stack: SynthesizedStack, orders_prod_stack: SynthesizedStack
) -> None:
    # Synthesized with the whole app (both stacks), as `cdk synth` does.
    synthesized = {"dev": orders_dev_stack, "prod": orders_prod_stack}[stage]
    report = json.loads((synthesized.assembly_dir / "validation-report.json").read_text())
    assert report["pluginReports"] == [], report
    tree = (synthesized.assembly_dir / "tree.json").read_text()
    assert synthesized.stack_name in tree
    assert "acknowledge" not in tree.lower(), "a suppression crept in: justify it in review"


def test_cdk_nag_gate_fails_the_synth_on_a_finding_in_the_orders_stack(tmp_path: Path) -> None:
    # GIVEN the whole app, with one queue that breaks AwsSolutions-SQS4 in the orders stack
    app = App(outdir=str(tmp_path))
    _, orders = add_stacks(app, "dev")
    sqs.Queue(orders, "Careless", enforce_ssl=False)
    # WHEN it is synthesized THEN the synth fails, the finding reported once
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS4") as refused:
        app.synth()
    assert str(refused.value).count("AwsSolutions-SQS4") == 1, str(refused.value)
    assert "ExactlyOnceOrders-dev/Careless" in str(refused.value)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cfn_lint_passes_on_the_synthesized_template(
    stage: str,
    orders_dev_stack: SynthesizedStack,
    orders_prod_stack: SynthesizedStack,
    tmp_path: Path,
) -> None:
    synthesized = {"dev": orders_dev_stack, "prod": orders_prod_stack}[stage]
    template = tmp_path / f"{synthesized.stack_name}.template.json"
    template.write_text(json.dumps(synthesized.template))
    # From the repository root so .cfnlintrc (and only its documented ignores) applies.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(template)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"cfn-lint findings:\n{result.stdout}{result.stderr}"


# --- the app --------------------------------------------------------------------------


def test_every_stage_has_a_ledger_and_an_orders_stack(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    added = [stack for stage in ("dev", "prod") for stack in add_stacks(app, stage)]
    assembly = app.synth()
    assert [s.stack_name for s in added] == [
        "ExactlyOnceLedger-dev",
        "ExactlyOnceOrders-dev",
        "ExactlyOnceLedger-prod",
        "ExactlyOnceOrders-prod",
    ]
    assert {s.stack_name for s in assembly.stacks} == {s.stack_name for s in added}
    assert [type(s) for s in added] == [LedgerStack, OrdersStack] * 2


def test_the_ledger_and_orders_stacks_can_be_added_alone(tmp_path: Path) -> None:
    # add_ledger_stack's callers (the local cloud, deploy tooling, tests) get the ledger only.
    ledger_app, orders_app = App(outdir=str(tmp_path / "l")), App(outdir=str(tmp_path / "o"))
    add_ledger_stack(ledger_app, "dev")
    add_orders_stack(orders_app, "dev")
    assert [s.stack_name for s in ledger_app.synth().stacks] == ["ExactlyOnceLedger-dev"]
    assert [s.stack_name for s in orders_app.synth().stacks] == ["ExactlyOnceOrders-dev"]


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_app_synthesizes_both_stacks_of_the_stage(stage: str, tmp_path: Path) -> None:
    # WHEN app.py runs as the CDK CLI runs it (outdir and context from the environment)
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        # prod refuses to synth without an alarm target (test_alarm_targets.py)
        "CDK_CONTEXT_JSON": json.dumps(
            {**context, "stage": stage, "alarm_email": "oncall@example.com"}
        ),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    completed = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    # THEN the assembly holds the stage's two stacks, and nothing else
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    stacks = sorted(
        name
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    )
    assert stacks == sorted(STAGES[stage].stack_names)
    assert stacks == [f"ExactlyOnceLedger-{stage}", f"ExactlyOnceOrders-{stage}"]
    for name in stacks:
        template = json.loads((tmp_path / f"{name}.template.json").read_text())
        assert template["Description"].endswith(f" pipeline ({stage})")
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == []


# --- the grants against the calls the consumer makes ------------------------------------


class CallRecorder:
    """Records every request of the clients it watches as (IAM action, resource role)."""

    def __init__(self, roles: dict[str, str]) -> None:
        self.calls: set[tuple[str, str]] = set()
        self.strip_old_items = False
        self._roles = roles

    def watch(self, client: Any) -> None:
        service = client.meta.service_model.service_name
        client.meta.events.register(f"before-parameter-build.{service}.*", self._record)
        if service == "dynamodb":
            client.meta.events.register("after-call.dynamodb.TransactWriteItems", self._maybe_strip)

    def _role(self, resource: str | None) -> str:
        return self._roles.get(resource or "", f"unknown resource {resource}")

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        # Never raises: a hook error inside the effect would be swallowed as its failure.
        service, name = model.metadata["endpointPrefix"], model.name
        if name == "TransactWriteItems":
            for item in params["TransactItems"]:
                for kind, body in item.items():
                    action = TRANSACT_ITEM_ACTIONS.get(kind, f"{kind}?")
                    self.calls.add((f"dynamodb:{action}", self._role(body.get("TableName"))))
        elif service == "dynamodb":
            self.calls.add((f"dynamodb:{name}", self._role(params.get("TableName"))))
        elif service == "sqs":
            action = SQS_ACTIONS.get(name, f"{name}?")
            self.calls.add((f"sqs:{action}", self._role(params.get("QueueUrl"))))
        else:
            self.calls.add((f"{service}:{name}", "unknown"))

    def _maybe_strip(self, parsed: dict[str, Any], **_: Any) -> None:
        # A cancellation whose reasons carry no old item: the consumer reads the record.
        if self.strip_old_items:
            for reason in parsed.get("CancellationReasons", []):
                reason.pop("Item", None)


def test_the_role_grants_exactly_what_the_orders_consumer_and_its_poller_call(
    exactly_once_aws: Any, manual_clock: Any, orders_dev_stack: SynthesizedStack
) -> None:
    from orders.effect import OrdersEffect

    # GIVEN the orders consumer's resources on moto, as the stack makes them, with stock
    resources = exactly_once_aws.consumer(key_prefix="orders-v1", key_path="order_id")
    inventory = resources.table("inventory", "sku", env="INVENTORY_TABLE_NAME")
    orders = resources.table("orders", "order_id", env="ORDERS_TABLE_NAME")
    for sku in ("sku-a", "sku-b"):
        resources.dynamodb.put_item(
            TableName=inventory, Item={"sku": {"S": sku}, "stock": {"N": "10"}}
        )
    # and the ledger's queue, where the charges go
    charges = resources.sqs.create_queue(QueueName="ledger-charges")["QueueUrl"]
    resources.environment["CHARGES_QUEUE_URL"] = charges
    recorder = CallRecorder(
        {
            resources.idempotency_table: "idempotency",
            inventory: "inventory",
            orders: "orders",
            resources.dead_letter_queue_url: "dead letter",
            resources.queue_url: "source",
            charges: "ledger queue",
        }
    )
    recorder.watch(resources.dynamodb)
    recorder.watch(resources.sqs)
    handler = resources.handler(OrdersEffect.from_setup, clock=manual_clock)

    def outcomes(*bodies: dict[str, Any] | str) -> list[str]:
        resources.deliver(handler, *bodies, clock=manual_clock)
        return sorted(d.outcome.value for d in handler.last_decisions.values())

    def order(order_id: str, quantity: int = 1, sku: str = "sku-a") -> dict[str, Any]:
        priced = {"customer_id": "c-1", "unit_price_cents": 100}
        return {"order_id": order_id, "sku": sku, "quantity": quantity, **priced}

    # WHEN every path of the consumer runs: new, invalid, duplicate, conflict, a mixed
    # batch, a cancellation without the old item, short stock alone and in a batch, and an
    # order id reused after its record expired
    assert outcomes(order("o-1"), "not json") == ["invalid", "processed"]
    assert outcomes(order("o-1"), order("o-1", quantity=2)) == ["conflict", "duplicate"]
    assert outcomes(order("o-2", sku="sku-b"), order("o-1")) == ["duplicate", "processed"]
    recorder.strip_old_items = True
    assert outcomes(order("o-1")) == ["duplicate"]
    recorder.strip_old_items = False
    assert outcomes(order("o-3", quantity=1000)) == ["refused"]
    assert outcomes(order("o-4"), order("o-5", quantity=1000, sku="sku-b")) == [
        "processed",
        "refused",
    ]
    manual_clock.advance(int(resources.environ()["IDEMPOTENCY_RETENTION_SECONDS"]) + 1)
    assert outcomes(order("o-1")) == ["refused"]

    # THEN the stack grants each call it made, on the resource it made it on, and no more
    granted = granted_actions(orders_dev_stack.template)
    dynamodb_and_sqs = granted["AWS::DynamoDB::Table"] | granted["AWS::SQS::Queue"]
    # (of the ledger's stack, SendMessage on its source queue alone: the charges)
    [(action, target)] = granted[OTHER_STACK]
    assert action == "sqs:SendMessage"
    assert target.startswith(f"{OTHER_STACK}ExactlyOnceLedger-dev/")
    assert "ConsumerQueue" in target and "Arn" in target and "DeadLetter" not in target
    dynamodb_and_sqs.add(("sqs:SendMessage", "ledger queue"))
    missing = (recorder.calls | POLLER) - dynamodb_and_sqs
    assert not missing, f"calls AWS would refuse: {sorted(missing)}"
    # (atomic, as deployed: the construct grants the lease writes to leased mode only)
    assert '"EXACTLY_ONCE_MODE": "atomic"' in json.dumps(orders_dev_stack.template)
    unused = dynamodb_and_sqs - recorder.calls - POLLER
    assert not unused, f"granted but never called: {sorted(unused)}"
