"""The app's stacks, synthesized in-process and deployed into a running moto server.

The same template that ``cdk deploy`` sends to AWS, created through moto's CloudFormation
(``create_stack``), with what CDK's bootstrap and asset publishing would have done done by
hand. moto's gaps are closed here and nowhere else (docs/local-cloud.md, "What the code relies on"):

- the asset zip goes to the bootstrap bucket, and ``/cdk-bootstrap/hnb659fds/version``
  into SSM, as ``cdk bootstrap`` would leave them;
- moto looks layers up in its own account: a stand-in with the public layer's name and
  version number is published (moto runs no code, so its content does not matter);
- moto ignores ``TimeToLiveSpecification``: TTL is enabled through the API, as the
  template says;
- an enabled event source mapping makes moto invoke the function on every send, fail
  (no Docker) and push messages toward the DLQ: the mappings are disabled, and the local
  runtime polls the queue itself.
"""

from __future__ import annotations

import functools
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from pipeline.moto_server import DEFAULT_REGION, FAKE_CREDENTIALS

ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = ROOT / "cdk.json"
BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
BOOTSTRAP_VERSION = "30"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same tree gives the same zip


@dataclass(frozen=True)
class FileAsset:
    """One file asset of the stack (the Lambda code), as the asset manifest lists it."""

    asset_hash: str
    source_path: Path
    packaging: str  # "zip" (a directory to zip) or "file"
    bucket_name: str  # with ${AWS::AccountId} and ${AWS::Region} placeholders
    object_key: str

    def bucket_for(self, account: str, region: str) -> str:
        return self.bucket_name.replace("${AWS::AccountId}", account).replace(
            "${AWS::Region}", region
        )

    def body(self) -> bytes:
        """The bytes to upload: the directory zipped (deterministically), or the file."""
        if self.packaging != "zip":
            return self.source_path.read_bytes()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(self.source_path.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo(
                        path.relative_to(self.source_path).as_posix(), _ZIP_EPOCH
                    )
                    info.external_attr = 0o644 << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, path.read_bytes())
        return buffer.getvalue()


@dataclass(frozen=True)
class SynthesizedStack:
    """A synthesized stack: its template, where the cloud assembly is, and its assets."""

    stack_name: str
    stage: str
    region: str
    template: dict[str, Any]
    assembly_dir: Path
    assets: tuple[FileAsset, ...]

    @property
    def template_body(self) -> str:
        return json.dumps(self.template)

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template.get("Resources", {}).items()
            if resource.get("Type") == resource_type
        }


def _cdk_json_context() -> dict[str, Any]:
    """cdk.json's context, so an in-process synth sees what ``cdk synth`` sees."""
    context = json.loads(CDK_JSON.read_text()).get("context", {})
    return dict(context)


def _file_assets(assembly_dir: Path, stack_name: str) -> tuple[FileAsset, ...]:
    manifest = json.loads((assembly_dir / f"{stack_name}.assets.json").read_text())
    assets: list[FileAsset] = []
    for asset_hash, entry in manifest.get("files", {}).items():
        source = entry["source"]
        if source.get("path", "").endswith(".template.json"):
            continue  # the template itself: create_stack takes it as TemplateBody
        destination = next(iter(entry["destinations"].values()))
        assets.append(
            FileAsset(
                asset_hash=asset_hash,
                source_path=assembly_dir / source["path"],
                packaging="zip" if source.get("packaging") == "zip" else "file",
                bucket_name=destination["bucketName"],
                object_key=destination["objectKey"],
            )
        )
    return tuple(assets)


def _synthesize(
    stage: str,
    add: Callable[[Any], Sequence[Any]],
    *,
    region: str,
    outdir: Path | None,
) -> tuple[SynthesizedStack, ...]:
    """Synthesize the stacks ``add(app)`` puts in a fresh app, in this process, cdk-nag
    checks included; one ``SynthesizedStack`` each, in ``add``'s order."""
    # jsii's Node end-of-life banner would bury the output of whoever asked for a template.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk  # heavy: only when a template is wanted

    assembly_dir = outdir or Path(tempfile.mkdtemp(prefix=f"cdk-{stage}-"))
    app = cdk.App(outdir=str(assembly_dir), context=_cdk_json_context())
    stacks = add(app)
    assembly = app.synth()
    synthesized = []
    for stack in stacks:
        artifact = assembly.get_stack_artifact(stack.artifact_id)
        synthesized.append(
            SynthesizedStack(
                stack_name=stack.stack_name,
                stage=stage,
                region=region,
                template=dict(artifact.template),
                assembly_dir=assembly_dir,
                assets=_file_assets(assembly_dir, artifact.id),
            )
        )
    return tuple(synthesized)


def synthesize_ledger_stack(
    stage: str = "dev",
    *,
    region: str = DEFAULT_REGION,
    account: str | None = None,
    outdir: Path | None = None,
) -> SynthesizedStack:
    """Synthesize the stage's ledger stack alone in this process, cdk-nag checks included.

    Takes 4-6 s the first time in a process (loading aws-cdk-lib), under 1 s after.
    """
    from app import add_ledger_stack

    (ledger,) = _synthesize(
        stage,
        lambda app: [add_ledger_stack(app, stage, account=account, region=region)],
        region=region,
        outdir=outdir,
    )
    return ledger


def synthesize_app_stacks(
    stage: str = "dev",
    *,
    region: str = DEFAULT_REGION,
    account: str | None = None,
    outdir: Path | None = None,
) -> tuple[SynthesizedStack, ...]:
    """Every stack of the stage's app, synthesized together in this process as ``cdk synth``
    does (``app.add_stacks``: the ledger's, then the orders'), cdk-nag checks included."""
    from app import add_stacks

    return _synthesize(
        stage,
        lambda app: add_stacks(app, stage, account=account, region=region),
        region=region,
        outdir=outdir,
    )


@functools.cache
def cached_ledger_stack(stage: str = "dev", region: str = DEFAULT_REGION) -> SynthesizedStack:
    """``synthesize_ledger_stack`` once per process and (stage, region)."""
    return synthesize_ledger_stack(stage, region=region)


@functools.cache
def cached_app_stacks(
    stage: str = "dev", region: str = DEFAULT_REGION
) -> tuple[SynthesizedStack, ...]:
    """``synthesize_app_stacks`` once per process and (stage, region)."""
    return synthesize_app_stacks(stage, region=region)


# --- moto -----------------------------------------------------------------------------


class LocalClients:
    """boto3 clients for a moto endpoint, with fake credentials."""

    def __init__(self, endpoint_url: str, region: str) -> None:
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


def layer_arns(synthesized: SynthesizedStack) -> list[str]:
    """Every layer version ARN the stack's functions use."""
    arns: list[str] = []
    for resource in synthesized.resources_of_type("AWS::Lambda::Function").values():
        for layer in resource.get("Properties", {}).get("Layers", []):
            arn = _resolve_region(layer, synthesized.region)
            if arn is not None and arn not in arns:
                arns.append(arn)
    return arns


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
        empty_zip = io.BytesIO()
        with zipfile.ZipFile(empty_zip, "w") as archive:
            archive.writestr("python/README.txt", f"moto stand-in for {arn}\n")
        for number in range(latest + 1, version + 1):
            lambda_client.publish_layer_version(
                LayerName=name,
                Description=f"moto stand-in for {name}:{number} (moto runs no code)",
                Content={"ZipFile": empty_zip.getvalue()},
                CompatibleRuntimes=["python3.14", "python3.13"],
            )
            if number < version:
                lambda_client.delete_layer_version(LayerName=name, VersionNumber=number)


def prepare_moto_for(synthesized: SynthesizedStack, clients: LocalClients) -> None:
    """What ``cdk bootstrap`` leaves behind, the stack's assets, and the layer stand-ins."""
    account = clients.client("sts").get_caller_identity()["Account"]
    ssm = clients.client("ssm")
    ssm.put_parameter(
        Name=BOOTSTRAP_VERSION_PARAMETER, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
    )
    s3 = clients.client("s3")
    for asset in synthesized.assets:
        bucket = asset.bucket_for(account, clients.region)
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": clients.region}
            )
        s3.put_object(Bucket=bucket, Key=asset.object_key, Body=asset.body())
    publish_layer_stand_ins(clients.client("lambda"), layer_arns(synthesized))


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _physical_ids(cloudformation: Any, stack_name: str) -> dict[str, str]:
    resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    # moto lists the resource types it does not create (alarms, queue policies) without ids.
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }


def enable_time_to_live(
    synthesized: SynthesizedStack, clients: LocalClients, stack_name: str
) -> dict[str, str]:
    """Turn on TTL on each deployed table whose template says so; table name -> attribute."""
    physical = _physical_ids(clients.client("cloudformation"), stack_name)
    dynamodb = clients.client("dynamodb")
    enabled: dict[str, str] = {}
    for logical_id, table in synthesized.resources_of_type("AWS::DynamoDB::Table").items():
        spec = table.get("Properties", {}).get("TimeToLiveSpecification") or {}
        if not spec.get("Enabled"):
            continue
        table_name = physical[logical_id]
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec["AttributeName"]},
        )
        enabled[table_name] = spec["AttributeName"]
    return enabled


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


def finish_local_stack(
    synthesized: SynthesizedStack,
    clients: LocalClients,
    stack_name: str,
    *,
    disable_mappings: bool = True,
) -> dict[str, str]:
    """Close moto's gaps on a deployed stack (TTL, mappings); return the stack outputs."""
    outputs = stack_outputs(clients.client("cloudformation"), stack_name)
    enable_time_to_live(synthesized, clients, stack_name)
    if disable_mappings and "FunctionName" in outputs:
        disable_event_source_mappings(clients, outputs["FunctionName"])
    return outputs


def deploy_template_to_moto(
    endpoint_url: str,
    stage: str = "dev",
    *,
    region: str = DEFAULT_REGION,
    stack_name: str | None = None,
    synthesized: SynthesizedStack | None = None,
    disable_mappings: bool = True,
) -> dict[str, str]:
    """Create the stage's ledger stack in the moto server at ``endpoint_url``; its outputs.

    ``stack_name`` defaults to the stage's; pass another to deploy a second copy side by
    side. moto cannot update these stacks reliably (docs/local-cloud.md, "Deploy from
    scratch, never update"): delete and create again.
    """
    synthesized = synthesized or cached_ledger_stack(stage, region)
    clients = LocalClients(endpoint_url, region)
    prepare_moto_for(synthesized, clients)
    name = stack_name or synthesized.stack_name
    cloudformation = clients.client("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=synthesized.template_body,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        Tags=[{"Key": "stage", "Value": stage}],
    )
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    return finish_local_stack(synthesized, clients, name, disable_mappings=disable_mappings)


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
