"""Deploy the app's stacks to a local moto server with the real CDK CLI.

    python -m pipeline.deploy_local [--stage dev] [--port 5000] [--serve]

Starts a moto server on localhost, runs ``cdk bootstrap`` and ``cdk deploy`` of every stack
of the stage (the ledger's and the orders') against it (``AWS_ENDPOINT_URL``, fake
credentials), closes moto's gaps (TTL, layer stand-in, event source mappings: see
``pipeline.stack``), then lists what each stack created. With ``--serve`` the server keeps
running until interrupted, for the CLI to use.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence

from exactly_once_local.moto_deploy import accept_cloudformation_kms_tags, provide_ssm_parameters
from exactly_once_local.moto_server import DEFAULT_PORT, DEFAULT_REGION, MOTO_ACCOUNT, moto_server
from pipeline.stack import (
    ROOT,
    LocalClients,
    SynthesizedStack,
    cached_app_stacks,
    describe_stack,
    event_source_mappings,
    finish_local_stack,
    layer_arns,
    publish_layer_stand_ins,
)

# Quiet, offline, self-contained CLI runs: no notices, telemetry or version checks, no
# Node warnings (the AWS SDK's Node 20 notice), and caches inside the repository rather
# than in $HOME.
CDK_CLI_ENVIRONMENT = {
    "NODE_NO_WARNINGS": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "CDK_DISABLE_VERSION_CHECK": "true",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CDK_HOME": str(ROOT / ".cdk-home"),
    "JSII_RUNTIME_PACKAGE_CACHE_ROOT": str(ROOT / ".jsii-cache"),
}


def cdk_command() -> list[str]:
    """The pinned CLI from package.json (``npm install`` first); npx as a fallback."""
    local = ROOT / "node_modules" / ".bin" / "cdk"
    if local.exists():
        return [str(local)]
    npx = shutil.which("npx")
    if npx is None:
        raise SystemExit("the CDK CLI is missing: run `npm install` in the repository root")
    return [npx, "--no-install", "cdk"]


def run_cdk(arguments: Sequence[str], environ: Mapping[str, str]) -> None:
    command = [*cdk_command(), *arguments]
    print(f"$ cdk {' '.join(arguments)}", flush=True)
    env = {**os.environ, **CDK_CLI_ENVIRONMENT, **environ}
    completed = subprocess.run(command, cwd=ROOT, env=env, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise SystemExit(f"cdk {arguments[0]} failed with exit code {completed.returncode}")


def deploy_with_cdk_cli(port: int, stage: str, region: str, *, serve: bool = False) -> None:
    # The cloud assembly (bootstrap synthesizes the app too) goes to a directory of its own:
    # a developer's cdk.out, and a `cdk synth` or `cdk watch` on it, stay untouched.
    with (
        moto_server(port, region=region) as endpoint,
        tempfile.TemporaryDirectory(prefix="cdk-local-") as assembly,
    ):
        started = time.perf_counter()
        environ = endpoint.environ()
        clients = LocalClients(endpoint.url, region)
        print(f"moto server at {endpoint.url} ({region})", flush=True)
        run_cdk(["bootstrap", f"aws://{MOTO_ACCOUNT}/{region}", "--output", assembly], environ)

        stacks = cached_app_stacks(stage, region)
        names = [synthesized.stack_name for synthesized in stacks]
        layers = list(
            dict.fromkeys(arn for synthesized in stacks for arn in layer_arns(synthesized))
        )
        publish_layer_stand_ins(clients.client("lambda"), layers)
        # What moto lacks for the CLI's templates: AWS's public Powertools layer parameters,
        # and CloudFormation-shaped tags on KMS keys.
        for synthesized in stacks:
            provide_ssm_parameters(synthesized, clients, MOTO_ACCOUNT)
        accept_cloudformation_kms_tags()
        run_cdk(
            [
                "deploy",
                *names,
                "--output",
                assembly,
                "--context",
                f"stage={stage}",
                "--context",
                f"region={region}",
                "--require-approval",
                "never",
                # CreateStack, not a change set: moto's change sets leave no stack outputs.
                "--method",
                "direct",
                "--progress",
                "events",
            ],
            environ,
        )
        outputs = {
            synthesized.stack_name: finish_local_stack(synthesized, clients, synthesized.stack_name)
            for synthesized in stacks
        }
        elapsed = time.perf_counter() - started

        print(f"\nstacks {', '.join(names)} deployed to moto in {elapsed:.1f} s")
        for synthesized in stacks:
            list_stack(synthesized, outputs[synthesized.stack_name], clients)
        print("\nnot created by moto (accepted, ignored): alarms, queue policies")

        if serve:
            print(f"\nserving on {endpoint.url}; Ctrl-C to stop", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("stopped")


def list_stack(
    synthesized: SynthesizedStack, outputs: Mapping[str, str], clients: LocalClients
) -> None:
    """Print a deployed stack: its resources, outputs, mappings and idempotency TTL."""
    print(f"\n=== stack {synthesized.stack_name}")
    print("resources:")
    for resource_type, logical_id, physical_id in describe_stack(clients, synthesized.stack_name):
        if resource_type != "?":
            print(f"  {resource_type:34} {logical_id:40} {physical_id}")
    print("outputs:")
    for key, value in outputs.items():
        print(f"  {key:22} {value}")
    for mapping in event_source_mappings(clients, outputs["FunctionName"]):
        print(
            f"event source mapping {mapping['UUID']}: {mapping['State']} "
            f"(moto cannot run the function; the local runtime polls the queue), "
            f"batch {mapping['BatchSize']}, {mapping.get('FunctionResponseTypes')}"
        )
    ttl = clients.client("dynamodb").describe_time_to_live(
        TableName=outputs["IdempotencyTableName"]
    )["TimeToLiveDescription"]
    print(f"idempotency table TTL: {ttl['TimeToLiveStatus']} on {ttl.get('AttributeName')}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stage", default="dev", help="the app's stage (default dev)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="moto server port")
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument(
        "--serve", action="store_true", help="keep the server running after the deploy"
    )
    args = parser.parse_args(argv)
    deploy_with_cdk_cli(args.port, args.stage, args.region, serve=args.serve)
    return 0


if __name__ == "__main__":
    sys.exit(main())
