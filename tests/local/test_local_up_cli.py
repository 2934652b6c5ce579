"""`python -m exactly_once_local up` as a user runs it: any CDK app from its own folder,
bad input as one line and a non-zero exit, Ctrl-C as a clean stop."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from exactly_once_local.assembly import read_assembly
from exactly_once_local.local_cloud import LocalCloud, start_local_cloud
from exactly_once_local.moto_deploy import LocalClients
from exactly_once_local.moto_server import free_port
from tests.local.fake_cdk_app import POWERTOOLS_PARAMETER, write_assembly

pytestmark = [pytest.mark.local, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SHIPMENTS = ROOT / "examples" / "shipments"
FAKE_APP = Path(__file__).with_name("fake_cdk_app.py")
READY = "Ctrl-C to stop"


def _environ() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ.update(
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_DISABLE_CLI_TELEMETRY="true",
        CDK_DISABLE_VERSION_CHECK="true",
        PYTHONUNBUFFERED="1",
    )
    return environ


def _up(cwd: Path, *arguments: str, cli: str = "exactly_once_local") -> subprocess.Popen[str]:
    command = ["pipeline", "local", "up"] if cli == "pipeline" else [cli, "up"]
    return subprocess.Popen(
        [sys.executable, "-m", *command, *arguments],
        cwd=cwd,
        env=_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_ready(process: subprocess.Popen[str], timeout: float = 180) -> list[str]:
    """stdout's lines up to the ready line (the process keeps running)."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if READY in line:
            return lines
    process.kill()
    _, stderr = process.communicate()
    raise AssertionError(f"not ready: {lines}\nstderr: {stderr}")


def _fake(case: str, tmp_path: Path, port: int = 0) -> subprocess.CompletedProcess[str]:
    app = shlex.join([sys.executable, str(FAKE_APP), case])
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "exactly_once_local",
            "up",
            "--app",
            app,
            "--cwd",
            str(tmp_path),
            "--port",
            str(port or free_port()),
        ],
        cwd=ROOT,
        env=_environ(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_shipments_from_its_own_folder_applies_a_shipment_and_stops_on_ctrl_c() -> None:
    port = free_port()
    process = _up(SHIPMENTS, "--port", str(port))
    try:
        lines = _wait_ready(process)
        queue_url = next(line.split(": ", 1)[1] for line in lines if "  QueueUrl: " in line)
        assert queue_url.startswith(f"http://localhost:{port}/")
        assert any("handler shipments.handler.lambda_handler" in line for line in lines)
        kwargs: dict[str, Any] = {
            "endpoint_url": f"http://localhost:{port}",
            "region_name": "eu-west-1",
            "aws_access_key_id": "local",
            "aws_secret_access_key": "local",
        }
        sqs, dynamodb = boto3.client("sqs", **kwargs), boto3.client("dynamodb", **kwargs)
        shipment = {"shipment_id": "s-1", "warehouse": "north", "parcels": 3}
        for _ in range(2):  # a resend: applied once
            sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(shipment))
        totals = next(t for t in dynamodb.list_tables()["TableNames"] if "Totals" in t)
        item: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            item = dynamodb.get_item(
                TableName=totals, Key={"warehouse": {"S": "north"}}, ConsistentRead=True
            ).get("Item", {})
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            if item and not any(int(n) for n in attributes.values()):
                break
            time.sleep(0.3)
        assert item and int(item["parcels"]["N"]) == 3 and int(item["shipments"]["N"]) == 1
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    assert "BrokenPipe" not in stderr, stderr
    assert "local cloud stopped." in stdout


def test_pipeline_local_up_runs_both_stacks_and_stops_on_ctrl_c_without_a_traceback() -> None:
    """The repository's CLI on its own app: no jsii in the process, so no BrokenPipe."""
    process = _up(ROOT, "--port", str(free_port()), cli="pipeline")
    try:
        lines = _wait_ready(process)
        assert "stack ExactlyOnceLedger-dev" in lines
        assert "stack ExactlyOnceOrders-dev" in lines
        assert sum(line.startswith("  QueueUrl: ") for line in lines) == 2
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert "local cloud stopped." in stdout


def test_ctrl_c_while_starting_stops_cleanly(tmp_path: Path) -> None:
    write_assembly(tmp_path, "consumer")
    process = _up(
        ROOT,
        "--app",
        shlex.join([sys.executable, str(FAKE_APP), "consumer"]),
        "--cwd",
        str(tmp_path),
        "--port",
        str(free_port()),
    )
    assert process.stdout is not None
    assert "synthesizing" in process.stdout.readline()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    assert "local cloud stopped." in stdout


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("fails", "error: the CDK app failed to synth"),
        ("no-sqs", "error: no stack of the CDK app has an SQS event source mapping"),
        ("nodejs", "error: stack Fake: function Function runs on nodejs20.x"),
        ("broken-handler", "handler consumer.handler failed to import: RuntimeError"),
        ("missing-parameter", "error: stack Fake: template parameter Setting reads the SSM"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    case: str, expected: str, tmp_path: Path
) -> None:
    completed = _fake(case, tmp_path)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert expected in lines[0]
    assert "Traceback" not in completed.stdout


def test_an_app_that_fails_to_synth_says_why(tmp_path: Path) -> None:
    completed = _fake("fails", tmp_path)
    assert "exited with 3): ValueError: the app is broken" in completed.stderr


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        completed = _fake("consumer", tmp_path, port=int(taken.getsockname()[1]))
    assert completed.returncode == 1
    [line] = completed.stderr.strip().splitlines()
    assert "is in use" in line and "--port" in line


@pytest.fixture(scope="module")
def fake_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """The ``mixed`` fake app (a consumer stack, a stack without a mapping) in-process."""
    outdir = tmp_path_factory.mktemp("assembly")
    write_assembly(outdir, "mixed")
    warnings: list[str] = []
    running = start_local_cloud(read_assembly(outdir), free_port(), warn=warnings.append)
    running.warnings = warnings  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        running.stop()


def test_a_stack_without_a_mapping_is_skipped_with_a_warning(fake_cloud: LocalCloud) -> None:
    assert list(fake_cloud.stacks) == ["Fake"]
    assert fake_cloud.warnings == [  # type: ignore[attr-defined]
        "warning: stack Quiet has no SQS event source mapping: skipped"
    ]


def test_the_powertools_parameter_gets_a_stand_in_layer(fake_cloud: LocalCloud) -> None:
    """The public parameter, absent in moto, names a stand-in layer version published there
    (moto's CloudFormation reads the parameter, and then ignores a function's Layers)."""
    from moto.ssm.models import ssm_backends

    clients = LocalClients(fake_cloud.endpoint_url, fake_cloud.endpoint.region)
    account = clients.client("sts").get_caller_identity()["Account"]
    parameter = ssm_backends[account][fake_cloud.endpoint.region].get_parameter(
        POWERTOOLS_PARAMETER
    )
    assert parameter is not None
    assert ":layer:AWSLambdaPowertoolsPythonV3-python313-arm64:" in parameter.value
    name, version = parameter.value.split(":")[-2:]
    layer = clients.client("lambda").get_layer_version(LayerName=name, VersionNumber=int(version))
    assert layer["LayerVersionArn"] == parameter.value


def test_the_fake_consumer_runs_with_its_settings(fake_cloud: LocalCloud) -> None:
    [consumer] = fake_cloud.consumers
    assert consumer.mapping.batch_size == 5
    assert consumer.poller.concurrency == 3
    assert consumer.function.timeout_seconds == 12
    sqs = LocalClients(fake_cloud.endpoint_url, fake_cloud.endpoint.region).client("sqs")
    sqs.send_message(QueueUrl=fake_cloud.outputs["QueueUrl"], MessageBody="hi")
    assert fake_cloud.wait_until_empty(timeout_seconds=30)
    assert consumer.poller.stats.deleted == 1
    assert consumer.poller.stats.outcomes["unknown"] == 1
