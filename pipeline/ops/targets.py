"""Which deployed pipeline a command talks to: a CloudFormation stack, on AWS or locally.

``--stack`` names the stack whose outputs (queue URLs, table names, function name) the
commands use; ``--endpoint-url`` (or ``AWS_ENDPOINT_URL``) points every client at the local
cloud instead of AWS; ``--region`` and ``--profile`` work as in the AWS CLI.
"""

from __future__ import annotations

import argparse
import functools
import os
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from exactly_once_local.moto_server import DEFAULT_REGION
from pipeline.ops.errors import TargetNotFound, error_code

DEFAULT_STACK = "ExactlyOnceLedger-dev"
STACK_ENV = "PIPELINE_STACK"
# Placeholder credentials for the local cloud (moto accepts anything).
_PLACEHOLDER_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# Throttling and transient errors are retried by the SDK (standard mode, with backoff).
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=60
)


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """``--stack``, ``--endpoint-url``, ``--region``, ``--profile`` on a command."""
    group = parser.add_argument_group("target")
    group.add_argument(
        "--stack",
        default=os.environ.get(STACK_ENV, DEFAULT_STACK),
        help=f"CloudFormation stack to read the outputs of (default ${STACK_ENV} or "
        f"{DEFAULT_STACK})",
    )
    group.add_argument(
        "--endpoint-url",
        default=None,
        help="talk to this endpoint instead of AWS, e.g. the local cloud "
        "(default $AWS_ENDPOINT_URL)",
    )
    group.add_argument("--region", default=None, help="AWS region (default as the AWS CLI)")
    group.add_argument("--profile", default=None, help="AWS profile (default as the AWS CLI)")


@dataclass
class Target:
    """A deployed ledger stack and the clients that reach it."""

    stack_name: str
    endpoint_url: str | None
    session: Any
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
        return cls(stack_name=args.stack, endpoint_url=endpoint_url, session=session)

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

    @functools.cached_property
    def outputs(self) -> dict[str, str]:
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)
        except ClientError as exc:
            if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
                raise TargetNotFound(
                    f"no stack {self.stack_name} at {self.where}: deploy it, or pass --stack "
                    "(and --endpoint-url for the local cloud)"
                ) from exc
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
            raise TargetNotFound(
                f"stack {self.stack_name} has no output {key}: is it a ledger stack?"
            )
        return value

    @functools.cached_property
    def function_environment(self) -> dict[str, str]:
        """The consumer function's environment variables (key prefix and path live there)."""
        configuration = self.client("lambda").get_function_configuration(
            FunctionName=self.output("FunctionName")
        )
        return dict((configuration.get("Environment") or {}).get("Variables") or {})

    def stack_resources(self, resource_type: str) -> list[str]:
        """Physical ids of the stack's resources of one type (those the endpoint created)."""
        resources = self.client("cloudformation").describe_stack_resources(
            StackName=self.stack_name
        )["StackResources"]
        return [
            str(r["PhysicalResourceId"])
            for r in resources
            if r.get("ResourceType") == resource_type and r.get("PhysicalResourceId")
        ]


def _configured_region() -> bool:
    return bool(os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
