"""The app's ledger stack: outputs the CLI reads, the ledger table, grants, stage values."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from infra import LedgerStack, OutputName

pytestmark = pytest.mark.infra


def test_outputs_have_the_stable_names_and_no_exports(dev_template: Template) -> None:
    outputs = dev_template.to_json()["Outputs"]
    expected = {name.value for name in LedgerStack.OUTPUTS}
    assert set(outputs) == expected
    assert OutputName.LEDGER_TABLE_NAME in LedgerStack.OUTPUTS
    for name in expected:
        assert "Export" not in outputs[name], f"{name} is exported; nothing may pin it"


def test_ledger_table_is_keyed_by_account_and_currency(dev_template: Template) -> None:
    dev_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "account_id", "KeyType": "HASH"},
                {"AttributeName": "currency", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_function_may_only_update_the_ledger(dev_template: Template) -> None:
    ledger_tables = dev_template.find_resources(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "KeySchema": Match.array_with([{"AttributeName": "account_id", "KeyType": "HASH"}])
            }
        },
    )
    (ledger_id,) = ledger_tables
    policy = next(iter(dev_template.find_resources("AWS::IAM::Policy").values()))
    granted = [
        statement["Action"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if {"Fn::GetAtt": [ledger_id, "Arn"]}
        in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    ]
    assert granted == ["dynamodb:UpdateItem"]


def test_function_runs_the_ledger_handler_with_the_ledger_table(dev_template: Template) -> None:
    dev_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "ledger.handler.lambda_handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "LEDGER_TABLE_NAME": {"Ref": Match.any_value()},
                        "IDEMPOTENCY_KEY_PREFIX": "ledger-v1",
                        "IDEMPOTENCY_KEY_PATH": "transaction_id",
                        "EXACTLY_ONCE_MODE": "atomic",
                        "POWERTOOLS_SERVICE_NAME": "ledger",
                    }
                )
            },
        },
    )


def test_dev_deletes_its_data_with_the_stack(dev_template: Template) -> None:
    for name, table in dev_template.find_resources("AWS::DynamoDB::Table").items():
        assert table["DeletionPolicy"] == "Delete", name
        assert table["Properties"].get("DeletionProtectionEnabled") is False, name


def test_prod_keeps_its_tables_when_the_stack_is_deleted(prod_template: Template) -> None:
    tables = prod_template.find_resources("AWS::DynamoDB::Table")
    assert len(tables) == 2
    for name, table in tables.items():
        assert table["DeletionPolicy"] == "Retain", name
        assert table["UpdateReplacePolicy"] == "Retain", name
        assert table["Properties"]["DeletionProtectionEnabled"] is True, name
    for name, queue in prod_template.find_resources("AWS::SQS::Queue").items():
        assert queue["DeletionPolicy"] == "Retain", name


def test_prod_allows_more_concurrency_than_dev(
    dev_template: Template, prod_template: Template
) -> None:
    dev_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"ScalingConfig": {"MaximumConcurrency": 2}}
    )
    prod_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"ScalingConfig": {"MaximumConcurrency": 10}}
    )


def test_assets_are_the_functions_directory_and_the_runtime_layer(dev_stack) -> None:  # type: ignore[no-untyped-def]
    # The consumers' code (functions/ without the runtime package or caches), and the
    # runtime package as the construct's layer (python/exactly_once/...).
    shipped = {
        asset.asset_hash: {
            p.relative_to(asset.source_path).as_posix() for p in asset.source_path.rglob("*")
        }
        for asset in dev_stack.assets
    }
    assert [asset.packaging for asset in dev_stack.assets] == ["zip", "zip"]
    (code,) = [files for files in shipped.values() if "ledger/handler.py" in files]
    (layer,) = [files for files in shipped.values() if "python/exactly_once/atomic.py" in files]
    assert not [p for p in code if p.startswith("exactly_once")], "the runtime ships as a layer"
    for files in (code, layer):
        assert not [p for p in files if "__pycache__" in p or p.endswith(".pyc")], files
