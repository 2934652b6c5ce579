"""Which deployed consumer a command talks to: a CloudFormation stack, on AWS or locally.

``--stack`` names the stack; its consumers are found from CloudFormation: the template's
``aws:cdk:path`` metadata and the stack's resources give, for each ``ExactlyOnceConsumer``
in it (a construct with ``Queue``, ``DeadLetterQueue`` and ``IdempotencyTable`` children),
its source queue, DLQ, idempotency table and function. A stack built without that
metadata is still accepted when its outputs name them (``QueueUrl``,
``DeadLetterQueueUrl``, ``IdempotencyTableName``, ``FunctionName``). ``--consumer``
picks one when the stack has several. ``--endpoint-url`` (or ``AWS_ENDPOINT_URL``) points
every client at the local cloud instead of AWS; ``--region`` and ``--profile`` work as in
the AWS CLI.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from exactly_once_local.moto_server import DEFAULT_REGION
from pipeline.ops.errors import ExitCode, OpsError, TargetNotFound, error_code

DEFAULT_STACK = "ExactlyOnceLedger-dev"
STACK_ENV = "PIPELINE_STACK"
CONSUMER_ENV = "PIPELINE_CONSUMER"
DEFAULT_KEY_PATH = "transaction_id"
LEDGER_TABLE_VARIABLE = "LEDGER_TABLE_NAME"
LEDGER_TABLE_OUTPUT = "LedgerTableName"
# Placeholder credentials for the local cloud (moto accepts anything).
_PLACEHOLDER_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# Throttling and transient errors are retried by the SDK (standard mode, with backoff).
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=60
)
# The ExactlyOnceConsumer construct's children: child id -> the resource types it may be.
_QUEUE_TYPES = frozenset({"AWS::SQS::Queue"})
_TABLE_TYPES = frozenset({"AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"})
_FUNCTION_TYPES = frozenset({"AWS::Lambda::Function"})
_ALARM_TYPE = "AWS::CloudWatch::Alarm"
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """``--stack``, ``--consumer``, ``--endpoint-url``, ``--region``, ``--profile``."""
    group = parser.add_argument_group("target")
    group.add_argument(
        "--stack",
        default=os.environ.get(STACK_ENV, DEFAULT_STACK),
        help=f"CloudFormation stack of the consumer (default ${STACK_ENV} or {DEFAULT_STACK})",
    )
    group.add_argument(
        "--consumer",
        metavar="PATH_OR_ID",
        default=os.environ.get(CONSUMER_ENV) or None,
        help="the ExactlyOnceConsumer to use when the stack has several: its construct "
        f"path or id, e.g. Consumer (default ${CONSUMER_ENV}; the only one when there is one)",
    )
    group.add_argument(
        "--endpoint-url",
        default=None,
        help="talk to this endpoint instead of AWS, e.g. the local cloud "
        "(default $AWS_ENDPOINT_URL)",
    )
    group.add_argument("--region", default=None, help="AWS region (default as the AWS CLI)")
    group.add_argument("--profile", default=None, help="AWS profile (default as the AWS CLI)")


@dataclass(frozen=True)
class ConsumerResources:
    """One consumer of a stack: what the operator commands need of it."""

    path: str  # the construct path (``Stack/Consumer``); the stack name when from outputs
    queue_url: str
    dead_letter_queue_url: str
    idempotency_table_name: str
    function_name: str | None
    alarm_names: tuple[str, ...] | None = None  # None: found from outputs, use the stack's
    from_outputs: bool = False


def consumers_in_template(
    template: Mapping[str, Any], physical_ids: Mapping[str, str]
) -> list[ConsumerResources]:
    """Every ``ExactlyOnceConsumer`` of a synthesized template, by its construct path.

    ``physical_ids`` maps logical ids to the deployed resources' ids (queue URLs, table
    and function names). A consumer is a construct path with ``Queue``,
    ``DeadLetterQueue`` and ``IdempotencyTable`` children of the right types, all deployed.
    """
    children: dict[str, dict[str, tuple[str, str]]] = {}  # parent -> child -> (type, logical)
    alarms: list[tuple[str, str]] = []  # (path, logical id)
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, Mapping):
            continue
        path = str((resource.get("Metadata") or {}).get("aws:cdk:path", ""))
        if not path:
            continue
        path = path.removesuffix("/Resource")
        resource_type = str(resource.get("Type", ""))
        if resource_type == _ALARM_TYPE:
            alarms.append((path, logical_id))
        parent, _, child = path.rpartition("/")
        if parent:
            children.setdefault(parent, {})[child] = (resource_type, logical_id)
    found: list[ConsumerResources] = []
    for parent, named in sorted(children.items()):

        def deployed(child: str, types: frozenset[str], named: dict[str, Any] = named) -> str:
            resource_type, logical_id = named.get(child, ("", ""))
            return physical_ids.get(logical_id, "") if resource_type in types else ""

        queue = deployed("Queue", _QUEUE_TYPES)
        dead_letter_queue = deployed("DeadLetterQueue", _QUEUE_TYPES)
        table = deployed("IdempotencyTable", _TABLE_TYPES)
        if not (queue and dead_letter_queue and table):
            continue
        found.append(
            ConsumerResources(
                path=parent,
                queue_url=queue,
                dead_letter_queue_url=dead_letter_queue,
                idempotency_table_name=table,
                function_name=deployed("Function", _FUNCTION_TYPES) or None,
                alarm_names=tuple(
                    physical_ids[logical_id]
                    for path, logical_id in alarms
                    if path.startswith(parent + "/") and physical_ids.get(logical_id)
                ),
            )
        )
    return found


def consumer_from_outputs(stack_name: str, outputs: Mapping[str, str]) -> ConsumerResources | None:
    """The consumer a stack's outputs name (the repository's stacks output them), or None."""
    names = ("QueueUrl", "DeadLetterQueueUrl", "IdempotencyTableName")
    if not all(outputs.get(name) for name in names):
        return None
    return ConsumerResources(
        path=stack_name,
        queue_url=outputs["QueueUrl"],
        dead_letter_queue_url=outputs["DeadLetterQueueUrl"],
        idempotency_table_name=outputs["IdempotencyTableName"],
        function_name=outputs.get("FunctionName") or None,
        from_outputs=True,
    )


def _relative(path: str, stack_name: str) -> str:
    return path.removeprefix(stack_name + "/") if path != stack_name else path


def choose_consumer(
    stack_name: str, consumers: Iterable[ConsumerResources], choice: str | None
) -> ConsumerResources:
    """The consumer ``choice`` names (construct path, path within the stack, or id); the
    only one when ``choice`` is None. One-line errors otherwise."""
    found = list(consumers)
    listed = ", ".join(_relative(c.path, stack_name) for c in found)
    if not found:
        raise TargetNotFound(
            f"stack {stack_name} has no ExactlyOnceConsumer (no construct with Queue, "
            "DeadLetterQueue and IdempotencyTable children, and no QueueUrl, "
            "DeadLetterQueueUrl and IdempotencyTableName outputs)"
        )
    if choice is None:
        if len(found) == 1:
            return found[0]
        raise OpsError(
            f"stack {stack_name} has {len(found)} consumers: pass --consumer with one of {listed}",
            ExitCode.USAGE,
        )
    wanted = choice.strip("/")
    matches = [
        c
        for c in found
        if wanted in (c.path, _relative(c.path, stack_name)) or c.path.endswith("/" + wanted)
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise TargetNotFound(
            f"stack {stack_name} has no consumer {choice}: its consumers are {listed}"
        )
    raise OpsError(
        f"--consumer {choice} matches {len(matches)} consumers of stack {stack_name}: pass "
        f"one of {', '.join(_relative(c.path, stack_name) for c in matches)}",
        ExitCode.USAGE,
    )


@dataclass
class Target:
    """A deployed stack, the consumer chosen in it, and the clients that reach it."""

    stack_name: str
    endpoint_url: str | None
    session: Any
    consumer_choice: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Target:
        endpoint_url = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        if endpoint_url is not None:
            # The local cloud takes any credentials; never look for (or send) real ones.
            for name, value in _PLACEHOLDER_CREDENTIALS.items():
                os.environ.setdefault(name, value)
        region = args.region
        if region is None and endpoint_url is not None and not _configured_region():
            region = DEFAULT_REGION
        session = boto3.Session(profile_name=args.profile, region_name=region)
        return cls(
            stack_name=args.stack,
            endpoint_url=endpoint_url,
            session=session,
            consumer_choice=getattr(args, "consumer", None),
        )

    @property
    def is_local(self) -> bool:
        """Talking to an endpoint of our choosing (the local cloud), not to AWS."""
        return self.endpoint_url is not None

    @property
    def region(self) -> str:
        return str(self.session.region_name or "")

    @property
    def where(self) -> str:
        return self.endpoint_url or f"AWS {self.region}"

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG
            )
        return self._clients[service]

    def single_attempt_client(self, service: str) -> Any:
        """A client that does not retry: for probing an operation the endpoint may lack."""
        return self.session.client(
            service,
            endpoint_url=self.endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )

    def _no_stack(self, exc: ClientError) -> None:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            raise TargetNotFound(
                f"no stack {self.stack_name} at {self.where}: deploy it, or pass --stack "
                "(and --endpoint-url for the local cloud)"
            ) from exc

    @functools.cached_property
    def outputs(self) -> dict[str, str]:
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)
        except ClientError as exc:
            self._no_stack(exc)
            raise
        stack = stacks["Stacks"][0]
        return {
            o["OutputKey"]: self._local_url(str(o["OutputValue"])) for o in stack.get("Outputs", [])
        }

    def _local_url(self, value: str) -> str:
        """moto's CloudFormation gives AWS-style queue URLs: print the endpoint's instead."""
        aws_prefix = f"https://sqs.{self.region}.amazonaws.com/"
        if self.endpoint_url and value.startswith(aws_prefix):
            return self.endpoint_url.rstrip("/") + "/" + value.removeprefix(aws_prefix)
        return value

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise TargetNotFound(f"stack {self.stack_name} has no output {key}")
        return value

    @functools.cached_property
    def _resources(self) -> list[dict[str, Any]]:
        try:
            resources = self.client("cloudformation").describe_stack_resources(
                StackName=self.stack_name
            )["StackResources"]
        except ClientError as exc:
            self._no_stack(exc)
            raise
        return list(resources)

    @functools.cached_property
    def consumers(self) -> list[ConsumerResources]:
        """Every consumer of the stack: from its template, else from its outputs."""
        from_outputs = consumer_from_outputs(self.stack_name, self.outputs)
        try:
            body = self.client("cloudformation").get_template(StackName=self.stack_name)
        except ClientError as exc:
            # An operator allowed DescribeStacks but not GetTemplate: the outputs will do.
            if from_outputs is not None and error_code(exc) in _ACCESS_DENIED:
                return [from_outputs]
            raise
        template = _parsed(body.get("TemplateBody"))
        physical_ids = {
            str(r["LogicalResourceId"]): self._local_url(str(r["PhysicalResourceId"]))
            for r in self._resources
            if r.get("PhysicalResourceId")
        }
        found = consumers_in_template(template, physical_ids)
        if not found and from_outputs is not None:
            found = [from_outputs]
        return found

    @functools.cached_property
    def consumer(self) -> ConsumerResources:
        """The consumer the command works on (``--consumer``, or the stack's only one)."""
        return choose_consumer(self.stack_name, self.consumers, self.consumer_choice)

    @property
    def consumer_label(self) -> str:
        """The consumer's construct path within the stack (``Consumer``), for output."""
        if self.consumer.from_outputs:
            return "(from the stack's outputs)"
        return _relative(self.consumer.path, self.stack_name)

    @property
    def function_name(self) -> str:
        name = self.consumer.function_name
        if not name:
            raise TargetNotFound(
                f"consumer {self.consumer.path} of stack {self.stack_name} has no function "
                "(no Function child, no FunctionName output)"
            )
        return name

    @functools.cached_property
    def function_environment(self) -> dict[str, str]:
        """The consumer function's environment variables (key prefix and path live there)."""
        configuration = self.client("lambda").get_function_configuration(
            FunctionName=self.function_name
        )
        return dict((configuration.get("Environment") or {}).get("Variables") or {})

    @property
    def key_path(self) -> str:
        """Where the idempotency key is in a body (the function's ``IDEMPOTENCY_KEY_PATH``)."""
        if not self.consumer.function_name:
            return DEFAULT_KEY_PATH
        return self.function_environment.get("IDEMPOTENCY_KEY_PATH") or DEFAULT_KEY_PATH

    def queue_arn(self, queue_url: str) -> str:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]
        return str(attributes["QueueArn"])

    def ledger_table_name(self, command: str) -> str:
        """The ledger table of a ledger consumer; a one-line error for any other consumer.

        A ledger consumer's function has ``LEDGER_TABLE_NAME`` in its environment (or,
        found from outputs, its stack outputs ``LedgerTableName``).
        """
        if self.consumer.function_name:
            name = self.function_environment.get(LEDGER_TABLE_VARIABLE)
            if name:
                return name
        if self.consumer.from_outputs and self.outputs.get(LEDGER_TABLE_OUTPUT):
            return self.outputs[LEDGER_TABLE_OUTPUT]
        raise OpsError(
            f"{command} works on ledger consumers only, and consumer {self.consumer_label} of "
            f"stack {self.stack_name} is not one (its function has no {LEDGER_TABLE_VARIABLE}): "
            "status, dlq and inspect work on any consumer",
            ExitCode.USAGE,
        )

    def stack_resources(self, resource_type: str) -> list[str]:
        """Physical ids of the stack's resources of one type (those the endpoint created)."""
        return [
            str(r["PhysicalResourceId"])
            for r in self._resources
            if r.get("ResourceType") == resource_type and r.get("PhysicalResourceId")
        ]

    def alarm_names(self) -> list[str]:
        """The consumer's alarms (the stack's, for a consumer found from outputs)."""
        if self.consumer.alarm_names is None:
            return self.stack_resources(_ALARM_TYPE)
        return list(self.consumer.alarm_names)


def _parsed(body: Any) -> Mapping[str, Any]:
    """A template body as boto3 returns it: decoded JSON already, or text (JSON, or YAML
    that the metadata search cannot read: then no consumer is found from it)."""
    if isinstance(body, Mapping):
        return body
    if isinstance(body, str):
        try:
            decoded = json.loads(body)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, Mapping) else {}
    return {}


def _configured_region() -> bool:
    return bool(os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
