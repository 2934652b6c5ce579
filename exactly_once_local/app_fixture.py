"""A user's CDK app deployed on the local cloud, for tests: ``LocalApp``.

Synthesized from the project's ``cdk.json`` (as ``cdk synth`` does), deployed into a
serialized moto server on a free port, its SQS consumers polling. Handles on its resources
by stack output name (``app.output("QueueUrl")``) or by construct path
(``app.physical_id("Shipments/Consumer/Queue")``, as ``aws:cdk:path`` metadata names it).
"""

from __future__ import annotations

import json
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .assembly import CloudAssembly, synth
from .local_cloud import LocalCloud, quiet_moto, start_local_cloud
from .moto_server import DEFAULT_REGION, MOTO_ACCOUNT

# The local clouds running in this process: in-process moto (``mock_aws``) would reset the
# state they serve, so the in-process fixtures refuse to start beside one.
RUNNING: set[int] = set()


class ResourceNotFound(LookupError):
    """No output or construct path of that name in the deployed app."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("localhost", 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalApp:
    """The deployed app: outputs, physical ids by construct path, clients, sending."""

    cloud: LocalCloud
    assembly: CloudAssembly
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint_url(self) -> str:
        return self.cloud.endpoint_url

    def client(self, service: str) -> Any:
        """A boto3 client on the local cloud."""
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(
                service, endpoint_url=self.endpoint_url, region_name=self.cloud.endpoint.region
            )
        return self._clients[service]

    def output(self, name: str, stack: str | None = None) -> str:
        """A stack output by its key (``QueueUrl``); ``stack`` when several stacks have it."""
        found = {
            stack_name: deployed.outputs[name]
            for stack_name, deployed in self.cloud.stacks.items()
            if name in deployed.outputs and stack in (None, stack_name)
        }
        if len(found) == 1:
            return next(iter(found.values()))
        if not found:
            known = sorted({k for s in self.cloud.stacks.values() for k in s.outputs})
            raise ResourceNotFound(f"no stack output {name!r}; the outputs are {known}")
        raise ResourceNotFound(f"output {name!r} is in stacks {sorted(found)}: pass stack=")

    def physical_id(self, construct_path: str) -> str:
        """The deployed resource at ``construct_path`` (its ``aws:cdk:path``, with or without
        the trailing ``/Resource``): a queue URL, a table name, a function name."""
        for artifact in self.assembly.stacks:
            for logical_id, resource in artifact.template.get("Resources", {}).items():
                path = str(resource.get("Metadata", {}).get("aws:cdk:path", ""))
                if construct_path in (path, path.removesuffix("/Resource")):
                    described = self.client("cloudformation").describe_stack_resource(
                        StackName=artifact.stack_name, LogicalResourceId=logical_id
                    )
                    return str(described["StackResourceDetail"]["PhysicalResourceId"])
        raise ResourceNotFound(f"no resource at construct path {construct_path!r}")

    def send(self, queue: str, *bodies: Mapping[str, Any] | str) -> None:
        """Send ``bodies`` to a queue given by output name, construct path or URL."""
        url = self._queue_url(queue)
        sqs = self.client("sqs")
        for body in bodies:
            sqs.send_message(
                QueueUrl=url, MessageBody=body if isinstance(body, str) else json.dumps(body)
            )

    def settle(self, timeout_seconds: float = 60.0) -> None:
        """Wait until every consumer's queue is drained (nothing visible or in flight)."""
        if not self.cloud.wait_until_empty(timeout_seconds):
            raise TimeoutError(f"the consumers' queues were not drained in {timeout_seconds} s")

    def items(self, table: str) -> list[dict[str, Any]]:
        """Every item of a table given by output name, construct path or table name."""
        name = self._resolve(table)
        dynamodb = self.client("dynamodb")
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
        while True:
            page = dynamodb.scan(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _resolve(self, name: str) -> str:
        try:
            return self.output(name)
        except ResourceNotFound:
            pass
        try:
            return self.physical_id(name)
        except ResourceNotFound:
            return name

    def _queue_url(self, queue: str) -> str:
        resolved = self._resolve(queue)
        if resolved.startswith("http"):
            return resolved
        return str(self.client("sqs").get_queue_url(QueueName=resolved)["QueueUrl"])


def deploy_app(
    project_dir: Path, *, region: str = DEFAULT_REGION, context: Mapping[str, Any] | None = None
) -> tuple[LocalApp, tempfile.TemporaryDirectory[str]]:
    """Synthesize the project's app and run it on the local cloud; stop with ``cloud.stop()``."""
    outdir = tempfile.TemporaryDirectory(prefix="exactly-once-app-")
    assembly = synth(
        project_dir, Path(outdir.name), region=region, account=MOTO_ACCOUNT, context=context
    )
    quiet_moto()  # its notes on the resources it skips (alarms, policies) are not findings
    cloud = start_local_cloud(assembly, free_port(), region=region)
    RUNNING.add(id(cloud))
    return LocalApp(cloud=cloud, assembly=assembly), outdir


def stop_app(app: LocalApp) -> None:
    RUNNING.discard(id(app.cloud))
    app.cloud.stop()
