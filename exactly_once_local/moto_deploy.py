"""Deploy a synthesized stack into a running moto server, as ``cdk deploy`` would on AWS.

The same template that ``cdk deploy`` sends to AWS, created through moto's CloudFormation
(``create_stack``), with what CDK's bootstrap and asset publishing would have done done by
hand. moto's gaps are closed here and nowhere else (docs/local-cloud.md):

- each file asset goes to the bootstrap bucket, and ``/cdk-bootstrap/hnb659fds/version``
  into SSM, as ``cdk bootstrap`` would leave them;
- moto looks layers up in its own account: a stand-in with the public layer's name and
  version number is published (moto runs no code, so its content does not matter);
- a template parameter ``AWS::SSM::Parameter::Value<...>`` naming one of the public
  Powertools layer parameters (``/aws/service/powertools/...``) gets a stand-in layer and
  the parameter, which moto does not have; any other missing parameter is an error;
- moto's KMS reads a key's ``Tags`` in its API's shape (``TagKey``/``TagValue``), not
  CloudFormation's (``Key``/``Value``): the template body sent to moto has them renamed;
- moto ignores ``TimeToLiveSpecification``: TTL is enabled through the API, as the
  template says;
- an enabled event source mapping makes moto invoke the function on every send, fail
  (no Docker) and push messages toward the DLQ: the mappings are disabled, and the local
  runtime polls the queue itself.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import boto3

from exactly_once_local.assembly import FileAsset
from exactly_once_local.moto_server import DEFAULT_REGION, FAKE_CREDENTIALS

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
BOOTSTRAP_VERSION = "30"
POWERTOOLS_PARAMETER_PREFIX = "/aws/service/powertools/"
SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<"


class DeployError(Exception):
    """A stack could not be deployed into moto (one line for the user)."""


class TemplateStack(Protocol):
    """What a deploy needs of a synthesized stack."""

    @property
    def stack_name(self) -> str: ...
    @property
    def template(self) -> dict[str, Any]: ...
    @property
    def assets(self) -> tuple[FileAsset, ...]: ...
    @property
    def template_body(self) -> str: ...
    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]: ...


class LocalClients:
    """boto3 clients for a moto endpoint, with fake credentials."""

    def __init__(self, endpoint_url: str, region: str = DEFAULT_REGION) -> None:
        self.endpoint_url = endpoint_url
        self.region = region

    def client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )


# --- layers and parameters -------------------------------------------------------------


def _resolve_region(value: Any, region: str) -> str | None:
    """A layer ARN from the template: a string, or Fn::Join with Ref AWS::Region."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        resolved = [_resolve_region(part, region) for part in parts]
        if all(part is not None for part in resolved):
            return str(separator).join(str(part) for part in resolved)
    if isinstance(value, Mapping) and value.get("Ref") == "AWS::Region":
        return region
    return None


def layer_arns(stack: TemplateStack, region: str) -> list[str]:
    """Every literal layer version ARN the stack's functions use."""
    arns: list[str] = []
    for resource in stack.resources_of_type("AWS::Lambda::Function").values():
        for layer in resource.get("Properties", {}).get("Layers", []):
            arn = _resolve_region(layer, region)
            if arn is not None and arn.startswith("arn:") and arn not in arns:
                arns.append(arn)
    return arns


def _stand_in_zip(what: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/README.txt", f"moto stand-in for {what}\n")
    return buffer.getvalue()


def publish_layer_stand_ins(lambda_client: Any, arns: list[str]) -> None:
    """Publish, in moto's account, a layer of each name up to each version number.

    moto finds a function's layers by name and version in the function's own account
    (the public layer's account is ignored), so a stand-in with the same name and number
    lets the function be created from the unchanged template.
    """
    for arn in arns:
        name, version = arn.split(":")[-2], int(arn.split(":")[-1])
        existing = lambda_client.list_layer_versions(LayerName=name).get("LayerVersions", [])
        latest = max((int(v["Version"]) for v in existing), default=0)
        for number in range(latest + 1, version + 1):
            lambda_client.publish_layer_version(
                LayerName=name,
                Description=f"moto stand-in for {name}:{number} (moto runs no code)",
                Content={"ZipFile": _stand_in_zip(arn)},
                CompatibleRuntimes=["python3.14", "python3.13"],
            )
            if number < version:
                lambda_client.delete_layer_version(LayerName=name, VersionNumber=number)


def ssm_parameter_defaults(stack: TemplateStack) -> dict[str, str]:
    """Template parameter -> the SSM parameter name its default reads, for each parameter
    of type ``AWS::SSM::Parameter::Value<...>``."""
    return {
        name: str(parameter["Default"])
        for name, parameter in stack.template.get("Parameters", {}).items()
        if str(parameter.get("Type", "")).startswith(SSM_PARAMETER_TYPE)
        and parameter.get("Default")
    }


def powertools_layer_name(parameter_name: str) -> str:
    """``/aws/service/powertools/python/{arch}/{python}/{version}`` -> a layer name like
    the public one's (``AWSLambdaPowertoolsPythonV3-python313-arm64``)."""
    parts = parameter_name.removeprefix(POWERTOOLS_PARAMETER_PREFIX).strip("/").split("/")
    language = parts[0].capitalize() if parts else "Python"
    arch = parts[1] if len(parts) > 1 else "x86_64"
    runtime = parts[2].replace(".", "") if len(parts) > 2 else "python"
    return f"AWSLambdaPowertools{language}V3-{runtime}-{arch}"[:140]


def provide_ssm_parameters(
    stack: TemplateStack, clients: LocalClients, account: str
) -> dict[str, str]:
    """Make every SSM parameter the template reads exist in moto; the ones added.

    A missing ``/aws/service/powertools/...`` parameter (public in AWS, absent in moto)
    becomes a stand-in layer version and the parameter holding its ARN; any other missing
    one is a ``DeployError`` naming the stack and the parameter.
    """
    from moto.ssm.models import ssm_backends  # the server runs in this process

    backend = ssm_backends[account][clients.region]
    added: dict[str, str] = {}
    for template_parameter, name in ssm_parameter_defaults(stack).items():
        if backend.get_parameter(name) is not None:
            continue
        if not name.startswith(POWERTOOLS_PARAMETER_PREFIX):
            raise DeployError(
                f"stack {stack.stack_name}: template parameter {template_parameter} reads the "
                f"SSM parameter {name}, which the local cloud does not have"
            )
        published = clients.client("lambda").publish_layer_version(
            LayerName=powertools_layer_name(name),
            Description=f"moto stand-in for the layer named by {name} (moto runs no code)",
            Content={"ZipFile": _stand_in_zip(name)},
        )
        _put_reserved_parameter(backend, account, name, str(published["LayerVersionArn"]))
        added[name] = str(published["LayerVersionArn"])
    return added


def _put_reserved_parameter(backend: Any, account: str, name: str, value: str) -> None:
    """Put a parameter under ``/aws/``, which moto's API (as AWS's) refuses to write."""
    from moto.core.utils import utcnow
    from moto.ssm.models import Parameter

    # moto has no API for public parameters: into its backend.
    backend._parameters[name].append(
        Parameter(  # type: ignore[abstract]
            account_id=account,
            name=name,
            value=value,
            parameter_type="String",
            description="moto stand-in for a public AWS parameter",
            allowed_pattern=None,
            keyid=None,
            last_modified_date=utcnow(),
            version=1,
            data_type="text",
        )
    )


# --- the deploy ------------------------------------------------------------------------


def upload_assets(stack: TemplateStack, clients: LocalClients, account: str) -> None:
    """What ``cdk bootstrap`` leaves behind, and the stack's file assets in its bucket."""
    ssm = clients.client("ssm")
    ssm.put_parameter(
        Name=BOOTSTRAP_VERSION_PARAMETER, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
    )
    s3 = clients.client("s3")
    for asset in stack.assets:
        bucket = asset.bucket_for(account, clients.region)
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": clients.region}
            )
        s3.put_object(Bucket=bucket, Key=asset.object_key, Body=asset.body())


def prepare_moto_for(stack: TemplateStack, clients: LocalClients) -> None:
    """Bootstrap, assets, layer stand-ins and SSM parameters: what create_stack needs."""
    from . import moto_stack_outputs

    moto_stack_outputs.install()  # the server may be in this process only through mock_aws
    account = str(clients.client("sts").get_caller_identity()["Account"])
    upload_assets(stack, clients, account)
    publish_layer_stand_ins(clients.client("lambda"), layer_arns(stack, clients.region))
    provide_ssm_parameters(stack, clients, account)


def moto_template_body(stack: TemplateStack) -> str:
    """The template as moto can create it (see the module docstring: KMS key tags)."""
    template = json.loads(stack.template_body)
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::KMS::Key" and properties.get("Tags"):
            properties["Tags"] = [
                {"TagKey": tag["Key"], "TagValue": tag["Value"]}
                if isinstance(tag, dict) and "Key" in tag
                else tag
                for tag in properties["Tags"]
            ]
    return json.dumps(template)


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def physical_ids(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """Logical id -> physical id of each resource moto created."""
    resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    # moto lists the resource types it does not create (alarms, queue policies) without ids.
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }


def enable_time_to_live(
    stack: TemplateStack, clients: LocalClients, stack_name: str
) -> dict[str, str]:
    """Turn on TTL on each deployed table whose template says so; table name -> attribute."""
    physical = physical_ids(clients.client("cloudformation"), stack_name)
    dynamodb = clients.client("dynamodb")
    enabled: dict[str, str] = {}
    for logical_id, table in stack.resources_of_type("AWS::DynamoDB::Table").items():
        spec = table.get("Properties", {}).get("TimeToLiveSpecification") or {}
        if not spec.get("Enabled") or logical_id not in physical:
            continue
        table_name = physical[logical_id]
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec["AttributeName"]},
        )
        enabled[table_name] = spec["AttributeName"]
    return enabled


def function_names(stack: TemplateStack, clients: LocalClients, stack_name: str) -> dict[str, str]:
    """Logical id -> deployed name of each Lambda function of the stack."""
    physical = physical_ids(clients.client("cloudformation"), stack_name)
    return {
        logical_id: physical[logical_id]
        for logical_id in stack.resources_of_type("AWS::Lambda::Function")
        if logical_id in physical
    }


def event_source_mappings(clients: LocalClients, function_name: str) -> list[dict[str, Any]]:
    lambda_client = clients.client("lambda")
    return list(
        lambda_client.list_event_source_mappings(FunctionName=function_name)["EventSourceMappings"]
    )


def disable_event_source_mappings(clients: LocalClients, function_name: str) -> list[str]:
    """Disable the function's mappings (moto would invoke, fail and redrive); their UUIDs."""
    lambda_client = clients.client("lambda")
    disabled: list[str] = []
    for mapping in event_source_mappings(clients, function_name):
        lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        disabled.append(mapping["UUID"])
    return disabled


def finish_stack(
    stack: TemplateStack,
    clients: LocalClients,
    stack_name: str,
    *,
    disable_mappings: bool = True,
) -> dict[str, str]:
    """Close moto's gaps on a deployed stack (TTL, mappings); return the stack outputs."""
    outputs = stack_outputs(clients.client("cloudformation"), stack_name)
    enable_time_to_live(stack, clients, stack_name)
    if disable_mappings:
        for function_name in function_names(stack, clients, stack_name).values():
            disable_event_source_mappings(clients, function_name)
    return outputs


def deploy_stack(
    stack: TemplateStack,
    clients: LocalClients,
    *,
    stack_name: str | None = None,
    disable_mappings: bool = True,
) -> dict[str, str]:
    """Create ``stack`` in the moto server of ``clients``; its outputs.

    ``stack_name`` defaults to the stack's own; pass another to deploy a second copy side
    by side. moto cannot update these stacks reliably (docs/local-cloud.md, "Deploy from
    scratch, never update"): delete and create again. The stack's tags are not passed:
    moto copies them onto the stack's KMS keys in a shape its KMS refuses (moto 5.2.5).
    """
    from botocore.exceptions import ClientError, WaiterError

    prepare_moto_for(stack, clients)
    name = stack_name or stack.stack_name
    cloudformation = clients.client("cloudformation")
    try:
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=moto_template_body(stack),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
    except (ClientError, WaiterError) as exc:
        raise DeployError(f"stack {name} could not be created in moto: {exc}") from exc
    return finish_stack(stack, clients, name, disable_mappings=disable_mappings)


def describe_stack(clients: LocalClients, stack_name: str) -> Iterator[tuple[str, str, str]]:
    """(type, logical id, physical id) of every resource of a deployed stack."""
    resources = clients.client("cloudformation").describe_stack_resources(StackName=stack_name)
    rows = [
        (
            r.get("ResourceType", "?"),
            r.get("LogicalResourceId", "?"),
            r.get("PhysicalResourceId", ""),
        )
        for r in resources["StackResources"]
    ]
    yield from sorted(rows)


def accept_cloudformation_kms_tags() -> None:
    """Make moto's CloudFormation take a KMS key's ``Tags`` as CloudFormation writes them.

    For templates deployed by another client (the CDK CLI's ``cdk deploy``), whose bodies
    ``moto_template_body`` cannot rewrite. Idempotent; the server runs in this process.
    """
    from moto.kms.models import Key

    original = Key.create_from_cloudformation_json
    if getattr(original, "_accepts_cloudformation_tags", False):
        return

    def create(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        properties["Tags"] = [
            {"TagKey": tag["Key"], "TagValue": tag["Value"]} if "Key" in tag else tag
            for tag in properties.get("Tags", [])
        ]
        return original(resource_name, cloudformation_json, *args, **kwargs)

    create._accepts_cloudformation_tags = True  # type: ignore[attr-defined]
    Key.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]
