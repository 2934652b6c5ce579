"""The construct's defaults that protect data and pick the runtime: data kept, the Python
versions Lambda and the Powertools layer share, the Powertools release that
functions/requirements.txt pins."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from exactly_once_cdk import (
    DEFAULT_POWERTOOLS_VERSION,
    SUPPORTED_RUNTIMES,
    InvalidConsumerSettings,
    powertools_layer_parameter,
)

from .conftest import build_consumer

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
POWERTOOLS_PIN = re.compile(r"^aws-lambda-powertools==(\S+)\s*$", re.M)


# --- data kept by default ------------------------------------------------------------


def test_by_default_the_idempotency_table_outlives_the_stack() -> None:
    stack, consumer = build_consumer()
    template = Template.from_stack(stack).to_json()
    table = template["Resources"][
        stack.get_logical_id(consumer.idempotency_table.node.default_child)
    ]  # type: ignore[arg-type]
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    for kind in ("AWS::SQS::Queue", "AWS::Logs::LogGroup"):
        kept = [r for r in template["Resources"].values() if r["Type"] == kind]
        assert kept
        for resource in kept:
            assert resource["DeletionPolicy"] == "Retain", kind
            assert resource["UpdateReplacePolicy"] == "Retain", kind


def test_destruction_is_an_explicit_choice() -> None:
    stack, _ = build_consumer(removal_policy=RemovalPolicy.DESTROY)
    template = Template.from_stack(stack).to_json()
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Logs::LogGroup"):
            assert resource["DeletionPolicy"] == "Delete", resource["Type"]
        if resource["Type"] == "AWS::DynamoDB::Table":
            # DESTROY alone turns protection off: a protected table would fail the deletion.
            assert resource["Properties"]["DeletionProtectionEnabled"] is False


def test_retained_without_deletion_protection_when_asked() -> None:
    stack, _ = build_consumer(deletion_protection=False)
    (table,) = Template.from_stack(stack).find_resources("AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is False


def test_refuses_deletion_protection_on_a_table_to_destroy() -> None:
    with pytest.raises(InvalidConsumerSettings, match=r"set deletion_protection=False, or keep"):
        build_consumer(removal_policy=RemovalPolicy.DESTROY, deletion_protection=True)


# --- runtime -------------------------------------------------------------------------


def test_supported_runtimes_are_python_3_12_to_3_14() -> None:
    assert [r.name for r in SUPPORTED_RUNTIMES] == ["python3.12", "python3.13", "python3.14"]


@pytest.mark.parametrize("runtime", SUPPORTED_RUNTIMES, ids=lambda r: r.name)
def test_each_supported_runtime_gets_its_own_powertools_layer(runtime: lambda_.Runtime) -> None:
    stack, consumer = build_consumer(runtime=runtime, architecture=lambda_.Architecture.X86_64)
    template = Template.from_stack(stack).to_json()
    (function,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    assert function["Runtime"] == runtime.name
    assert consumer.runtime.name == runtime.name
    layer, _runtime_layer = function["Layers"]
    assert template["Parameters"][layer["Ref"]]["Default"] == (
        f"/aws/service/powertools/python/x86_64/{runtime.name}/{DEFAULT_POWERTOOLS_VERSION}"
    )


def test_refuses_a_runtime_the_powertools_layer_or_lambda_does_not_support() -> None:
    with pytest.raises(InvalidConsumerSettings) as refused:
        build_consumer(runtime=lambda_.Runtime.PYTHON_3_11)
    assert "runtime is python3.11: use one of python3.12, python3.13, python3.14" in str(
        refused.value
    )
    assert "leave it unset for python3.14" in str(refused.value)
    with pytest.raises(InvalidConsumerSettings, match=r"runtime is nodejs22\.x: use one of"):
        build_consumer(runtime=lambda_.Runtime.NODEJS_22_X)


# --- the Powertools layer --------------------------------------------------------------


def test_the_default_powertools_release_is_the_one_requirements_txt_pins() -> None:
    # The construct cannot read functions/requirements.txt (it ships in the wheel without it): its
    # constant and the pin are one source of truth only if this holds.
    (pinned,) = POWERTOOLS_PIN.findall((ROOT / "functions" / "requirements.txt").read_text())
    assert pinned == DEFAULT_POWERTOOLS_VERSION, (
        f"functions/requirements.txt pins aws-lambda-powertools=={pinned}, the construct's "
        f"DEFAULT_POWERTOOLS_VERSION is {DEFAULT_POWERTOOLS_VERSION}: change them together"
    )
    (constrained,) = re.findall(
        r"^aws[-_]lambda[-_]powertools==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M
    )
    assert constrained == pinned


def test_the_parameter_name_is_awss_public_one() -> None:
    assert (
        powertools_layer_parameter(
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            version="3.30.1",
        )
        == "/aws/service/powertools/python/arm64/python3.13/3.30.1"
    )


def test_a_powertools_release_is_resolved_through_its_parameter() -> None:
    stack, _ = build_consumer(powertools_version="3.30.1")
    parameters = Template.from_stack(stack).to_json()["Parameters"]
    defaults = [p["Default"] for p in parameters.values() if "powertools" in p.get("Default", "")]
    assert defaults == ["/aws/service/powertools/python/arm64/python3.14/3.30.1"]


def test_an_explicit_layer_arn_replaces_the_parameter() -> None:
    arn = (
        "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:30"
    )
    stack, _ = build_consumer(powertools_layer_arn=arn)
    template = Template.from_stack(stack).to_json()
    (function,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    assert function["Layers"][0] == arn
    assert not [p for p in template.get("Parameters", {}) if p.startswith("SsmParameterValue")]


@pytest.mark.parametrize("version", ["latest", "2.43.1", "3.37", "v3.37.0"])
def test_refuses_a_powertools_version_that_is_not_an_exact_v3_release(version: str) -> None:
    with pytest.raises(
        InvalidConsumerSettings,
        match=rf"powertools_version is '{re.escape(version)}': give an exact Powertools v3 release",
    ):
        build_consumer(powertools_version=version)


# --- cdk-nag on the construct alone ---------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [{}, {"mode": "leased"}, {"removal_policy": RemovalPolicy.DESTROY}],
    ids=["defaults", "leased", "destroy"],
)
def test_cdk_nag_finds_nothing_on_the_construct_alone(
    overrides: dict[str, object], tmp_path: Path
) -> None:
    # GIVEN the construct in a bare app, its own alarm topic and runtime layer included,
    # with cdk-nag's AwsSolutions checks registered as app.py does
    import json

    from aws_cdk import App, Stack, Validations
    from cdk_nag import AwsSolutionsChecks

    from exactly_once_cdk import ExactlyOnceConsumer, ExactlyOnceMode

    from .conftest import consumer_props

    if overrides.get("mode") == "leased":
        overrides = {**overrides, "mode": ExactlyOnceMode.LEASED}
    app = App(outdir=str(tmp_path))
    ExactlyOnceConsumer(Stack(app, "NagProbe"), "Consumer", **consumer_props(**overrides))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    # WHEN it is synthesized (a finding would fail it) THEN the report is empty
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == [], report
