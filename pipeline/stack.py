"""The app's stacks, synthesized in this process (for the infra tests and the CDK CLI
deploy), and deployed into a running moto server through ``exactly_once_local``.

The local cloud itself (``python -m pipeline local up``, the demo) synthesizes the app the
way the CDK CLI does, in a subprocess (``exactly_once_local.assembly``); the deploy into
moto and the gaps it closes are ``exactly_once_local.moto_deploy``'s.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exactly_once_local.assembly import FileAsset, StackArtifact, file_assets
from exactly_once_local.moto_deploy import (
    BOOTSTRAP_VERSION,
    BOOTSTRAP_VERSION_PARAMETER,
    LocalClients,
    deploy_stack,
    describe_stack,
    disable_event_source_mappings,
    enable_time_to_live,
    event_source_mappings,
    finish_stack,
    publish_layer_stand_ins,
    stack_outputs,
)
from exactly_once_local.moto_deploy import layer_arns as _layer_arns
from exactly_once_local.moto_deploy import prepare_moto_for as _prepare_moto_for
from exactly_once_local.moto_server import DEFAULT_REGION

__all__ = [
    "BOOTSTRAP_VERSION",
    "BOOTSTRAP_VERSION_PARAMETER",
    "FileAsset",
    "LocalClients",
    "SynthesizedStack",
    "cached_app_stacks",
    "cached_ledger_stack",
    "deploy_template_to_moto",
    "describe_stack",
    "disable_event_source_mappings",
    "enable_time_to_live",
    "event_source_mappings",
    "finish_local_stack",
    "layer_arns",
    "prepare_moto_for",
    "publish_layer_stand_ins",
    "stack_outputs",
    "synthesize_app_stacks",
    "synthesize_ledger_stack",
]

ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = ROOT / "cdk.json"


@dataclass(frozen=True)
class SynthesizedStack(StackArtifact):
    """A stack synthesized in this process (the assembly's artifact: template, assets), and
    the stage and region it was built for."""

    stage: str = "dev"
    region: str = DEFAULT_REGION


def _cdk_json_context() -> dict[str, Any]:
    """cdk.json's context, so an in-process synth sees what ``cdk synth`` sees."""
    context = json.loads(CDK_JSON.read_text()).get("context", {})
    return dict(context)


def _file_assets(assembly_dir: Path, stack_name: str) -> tuple[FileAsset, ...]:
    return file_assets(assembly_dir, f"{stack_name}.assets.json")


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
                artifact_id=artifact.id,
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


# --- moto (exactly_once_local.moto_deploy, with this app's stage tag) ---------------------


def layer_arns(synthesized: SynthesizedStack) -> list[str]:
    """Every layer version ARN the stack's functions use."""
    return _layer_arns(synthesized, synthesized.region)


def prepare_moto_for(synthesized: SynthesizedStack, clients: LocalClients) -> None:
    """What ``cdk bootstrap`` leaves behind, the stack's assets, and the layer stand-ins."""
    _prepare_moto_for(synthesized, clients)


def finish_local_stack(
    synthesized: SynthesizedStack,
    clients: LocalClients,
    stack_name: str,
    *,
    disable_mappings: bool = True,
) -> dict[str, str]:
    """Close moto's gaps on a deployed stack (TTL, mappings); return the stack outputs."""
    return finish_stack(synthesized, clients, stack_name, disable_mappings=disable_mappings)


def deploy_template_to_moto(
    endpoint_url: str,
    stage: str = "dev",
    *,
    region: str = DEFAULT_REGION,
    stack_name: str | None = None,
    synthesized: SynthesizedStack | None = None,
    disable_mappings: bool = True,
) -> dict[str, str]:
    """Create the stage's ledger stack (synthesized in this process) in the moto server at
    ``endpoint_url``; its outputs. ``stack_name``: deploy a copy under another name."""
    synthesized = synthesized or cached_ledger_stack(stage, region)
    return deploy_stack(
        synthesized,
        LocalClients(endpoint_url, region),
        stack_name=stack_name,
        disable_mappings=disable_mappings,
    )
