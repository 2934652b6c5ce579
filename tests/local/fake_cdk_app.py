"""A stand-in for a CDK app: writes a cloud assembly of a named shape, without jsii.

Run as the app command (``python fake_cdk_app.py CASE``) it writes into ``CDK_OUTDIR``
what ``app.synth()`` would: ``manifest.json``, a template and an asset manifest per stack,
and each function's code as an ``asset.<hash>`` directory. ``write_assembly`` does the
same in a test's process. Cases:

- ``consumer``: one stack, a Python function on an SQS queue, with a Powertools layer
  from the public SSM parameter;
- ``no-sqs``: one stack with a queue and no mapping;
- ``mixed``: ``consumer``'s stack and a stack with no mapping;
- ``nodejs``: the function runs on Node.js;
- ``broken-handler``: the handler module raises when imported;
- ``missing-parameter``: a template parameter reads an SSM parameter nobody put;
- ``fails``: the app exits with an error, writing nothing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ASSET_HASH = "0" * 63 + "1"
POWERTOOLS_PARAMETER = "/aws/service/powertools/python/arm64/python3.13/18"

HANDLER = """\
import os

SEEN = []


def handler(event, context):
    for record in event["Records"]:
        SEEN.append((os.environ["GREETING"], record["body"]))
    return {"batchItemFailures": []}
"""
BROKEN_HANDLER = 'raise RuntimeError("broken at import")\n'


def _function(runtime: str, layers: list[Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Code": {
                "S3Bucket": {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"},
                "S3Key": f"{ASSET_HASH}.zip",
            },
            "Handler": "consumer.handler",
            "Runtime": runtime,
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Timeout": 12,
            "Environment": {"Variables": {"GREETING": "hello"}},
            "Layers": layers,
        },
    }


def _template(case: str) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}},
    }
    outputs: dict[str, Any] = {"QueueUrl": {"Value": {"Ref": "Queue"}}}
    parameters: dict[str, Any] = {}
    if case == "no-sqs":
        return {"Resources": resources, "Outputs": outputs}
    layers: list[Any] = []
    if case == "missing-parameter":
        parameters["Setting"] = {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": "/my-team/setting",
        }
    else:
        parameters["PowertoolsLayer"] = {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": POWERTOOLS_PARAMETER,
        }
        layers = [{"Ref": "PowertoolsLayer"}]
    resources["Role"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        },
    }
    runtime = "nodejs20.x" if case == "nodejs" else "python3.13"
    resources["Function"] = _function(runtime, layers)
    resources["Mapping"] = {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "FunctionName": {"Ref": "Function"},
            "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
            "BatchSize": 5,
            "MaximumBatchingWindowInSeconds": 0,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 3},
        },
    }
    outputs["FunctionName"] = {"Value": {"Ref": "Function"}}
    return {"Parameters": parameters, "Resources": resources, "Outputs": outputs}


def _assets_manifest() -> dict[str, Any]:
    return {
        "version": "55.0.0",
        "files": {
            ASSET_HASH: {
                "source": {"path": f"asset.{ASSET_HASH}", "packaging": "zip"},
                "destinations": {
                    "current": {
                        "bucketName": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}",
                        "objectKey": f"{ASSET_HASH}.zip",
                    }
                },
            }
        },
    }


def write_assembly(outdir: Path, case: str) -> None:
    """The assembly of ``case`` (see the module docstring) in ``outdir``."""
    outdir.mkdir(parents=True, exist_ok=True)
    stacks = {"Fake": case if case != "mixed" else "consumer"}
    if case == "mixed":
        stacks["Quiet"] = "no-sqs"
    artifacts: dict[str, Any] = {}
    for name, shape in stacks.items():
        (outdir / f"{name}.template.json").write_text(json.dumps(_template(shape)))
        (outdir / f"{name}.assets.json").write_text(json.dumps(_assets_manifest()))
        artifacts[f"{name}.assets"] = {
            "type": "cdk:asset-manifest",
            "properties": {"file": f"{name}.assets.json"},
        }
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": "aws://unknown-account/eu-west-1",
            "properties": {"templateFile": f"{name}.template.json", "stackName": name},
            "dependencies": [f"{name}.assets"],
        }
    code = outdir / f"asset.{ASSET_HASH}"
    code.mkdir(exist_ok=True)
    (code / "consumer.py").write_text(BROKEN_HANDLER if case == "broken-handler" else HANDLER)
    manifest = {"version": "55.0.0", "artifacts": artifacts}
    (outdir / "manifest.json").write_text(json.dumps(manifest))


if __name__ == "__main__":
    chosen = sys.argv[1]
    if chosen == "fails":
        print("Traceback (most recent call last):", file=sys.stderr)
        print("ValueError: the app is broken", file=sys.stderr)
        raise SystemExit(3)
    write_assembly(Path(os.environ["CDK_OUTDIR"]), chosen)
