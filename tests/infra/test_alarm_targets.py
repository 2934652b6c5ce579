"""Alarms reach someone: the app's prod stage refuses to synth without an alarm target, and
each target lands in the template (an email subscribed to the consumer's own topic, or an
existing topic that every alarm notifies)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from app import AlarmTarget, add_stacks
from pipeline.stack import ROOT

pytestmark = pytest.mark.infra

TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:oncall"


def run_app(tmp_path: Path, **context: str) -> subprocess.CompletedProcess[str]:
    """app.py as the CDK CLI runs it: outdir and context (cdk.json's, plus ``context``) from
    the environment."""
    cdk_context = json.loads((ROOT / "cdk.json").read_text())["context"]
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({**cdk_context, **context}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    return subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def resources_of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


@pytest.mark.slow
def test_prod_refuses_to_synth_without_an_alarm_target_in_one_line(tmp_path: Path) -> None:
    completed = run_app(tmp_path, stage="prod")
    assert completed.returncode != 0
    message = completed.stderr.strip().splitlines()[-1]
    assert message == (
        "stage prod needs someone to receive its alarms: pass -c alarm_email=you@example.com "
        "(subscribed to the alarm topics) or -c alarm_topic_arn=arn:aws:sns:REGION:ACCOUNT:TOPIC "
        "(an existing topic)"
    ), completed.stderr[-3000:]
    assert not (tmp_path / "manifest.json").exists(), "nothing synthesized"


@pytest.mark.slow
@pytest.mark.parametrize("option", ["alarm_email", "alarm_topic_arn"])
def test_prod_synthesizes_with_either_alarm_target(option: str, tmp_path: Path) -> None:
    value = {"alarm_email": "oncall@example.com", "alarm_topic_arn": TOPIC_ARN}[option]
    completed = run_app(tmp_path, stage="prod", **{option: value})
    assert completed.returncode == 0, completed.stderr[-3000:]
    for name in ("ExactlyOnceLedger-prod", "ExactlyOnceOrders-prod"):
        template = json.loads((tmp_path / f"{name}.template.json").read_text())
        alarms = resources_of(template, "AWS::CloudWatch::Alarm")
        assert len(alarms) == 4, name
        actions = [alarm["Properties"]["AlarmActions"] for alarm in alarms]
        if option == "alarm_email":
            (subscription,) = resources_of(template, "AWS::SNS::Subscription")
            assert subscription["Properties"]["Protocol"] == "email"
            assert subscription["Properties"]["Endpoint"] == value
            assert actions == [[subscription["Properties"]["TopicArn"]]] * 4
        else:
            assert actions == [[TOPIC_ARN]] * 4, name
            assert not resources_of(template, "AWS::SNS::Topic"), "no topic of its own"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("option", "value", "refusal"),
    [
        (
            "alarm_topic_arn",
            "arn:aws:lambda:eu-west-1:123456789012:function:oncall",
            "alarm_topic_arn 'arn:aws:lambda:eu-west-1:123456789012:function:oncall' is not "
            "an SNS topic ARN: pass -c alarm_topic_arn=arn:aws:sns:REGION:ACCOUNT:TOPIC",
        ),
        (
            "alarm_email",
            "oncall",
            "alarm_email 'oncall' is not an email address: pass -c alarm_email=you@example.com",
        ),
    ],
    ids=["topic-arn", "email"],
)
def test_prod_refuses_a_target_that_is_not_one(
    option: str, value: str, refusal: str, tmp_path: Path
) -> None:
    completed = run_app(tmp_path, stage="prod", **{option: value})
    assert completed.returncode != 0
    assert completed.stderr.strip().splitlines()[-1] == refusal


def test_dev_synthesizes_without_a_target_its_alarms_on_the_consumers_own_topic(
    tmp_path: Path,
) -> None:
    ledger, orders = add_stacks(App(outdir=str(tmp_path)), "dev")
    for stack in (ledger, orders):
        template = Template.from_stack(stack).to_json()
        (topic_id,) = [
            logical_id
            for logical_id, r in template["Resources"].items()
            if r["Type"] == "AWS::SNS::Topic"
        ]
        for alarm in resources_of(template, "AWS::CloudWatch::Alarm"):
            assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert not resources_of(template, "AWS::SNS::Subscription")


def test_the_target_can_be_passed_in_process(tmp_path: Path) -> None:
    ledger, _ = add_stacks(
        App(outdir=str(tmp_path)), "prod", alarms=AlarmTarget(email="oncall@example.com")
    )
    template = Template.from_stack(ledger)
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )
