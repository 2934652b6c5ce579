"""A CDK app's cloud assembly, synthesized as the CDK CLI does it and read back.

The CLI runs the app's command (``app`` in ``cdk.json``) in a subprocess with
``CDK_OUTDIR`` (where to write the assembly) and ``CDK_CONTEXT_JSON`` (``cdk.json``'s and
``cdk.context.json``'s context), then reads ``manifest.json``: each stack artifact's
template, and its asset manifest (``*.assets.json``) giving each file asset's source
path in the assembly. This does the same, so no jsii runs in the caller's process.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same tree gives the same zip
STACK_ARTIFACT = "aws:cloudformation:stack"
ASSET_MANIFEST_ARTIFACT = "cdk:asset-manifest"
NESTED_ASSEMBLY_ARTIFACT = "cdk:cloud-assembly"


class SynthError(Exception):
    """The app could not be synthesized or its assembly read (one line for the user)."""


@dataclass(frozen=True)
class FileAsset:
    """One file asset of a stack (e.g. a Lambda function's code), as its manifest lists it."""

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
class StackArtifact:
    """One stack of the assembly: its template, its file assets, the stacks it needs."""

    stack_name: str
    artifact_id: str
    template: dict[str, Any]
    assembly_dir: Path
    assets: tuple[FileAsset, ...]
    dependencies: tuple[str, ...] = ()  # artifact ids of the stacks deployed before it
    tags: tuple[tuple[str, str], ...] = ()  # the stack's tags, as the CLI passes them

    @property
    def template_body(self) -> str:
        return json.dumps(self.template)

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template.get("Resources", {}).items()
            if resource.get("Type") == resource_type
        }


@dataclass(frozen=True)
class CloudAssembly:
    """The stacks of a synthesized app, in the order they can be deployed."""

    directory: Path
    stacks: tuple[StackArtifact, ...]

    def stack(self, name: str) -> StackArtifact:
        for stack in self.stacks:
            if name in (stack.stack_name, stack.artifact_id):
                return stack
        known = ", ".join(s.stack_name for s in self.stacks) or "none"
        raise SynthError(f"no stack {name} in the CDK app (its stacks: {known})")


def file_assets(assembly_dir: Path, manifest_file: str) -> tuple[FileAsset, ...]:
    """The file assets an asset manifest lists, except the templates themselves."""
    manifest = json.loads((assembly_dir / manifest_file).read_text())
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


def read_assembly(directory: Path) -> CloudAssembly:
    """The stacks of the assembly in ``directory`` (nested assemblies, i.e. stages,
    included), dependencies first."""
    stacks = _read_stacks(Path(directory))
    return CloudAssembly(Path(directory), _deploy_order(stacks))


def _read_stacks(directory: Path) -> list[StackArtifact]:
    manifest_path = directory / "manifest.json"
    if not manifest_path.exists():
        raise SynthError(f"the CDK app wrote no cloud assembly (no {manifest_path})")
    artifacts: dict[str, Any] = json.loads(manifest_path.read_text()).get("artifacts", {})
    stacks: list[StackArtifact] = []
    for artifact_id, artifact in artifacts.items():
        properties = artifact.get("properties", {})
        if artifact.get("type") == NESTED_ASSEMBLY_ARTIFACT:
            stacks += _read_stacks(directory / properties["directoryName"])
            continue
        if artifact.get("type") != STACK_ARTIFACT:
            continue
        dependencies = artifact.get("dependencies", [])
        assets: list[FileAsset] = []
        stack_dependencies: list[str] = []
        for dependency in dependencies:
            other = artifacts.get(dependency, {})
            if other.get("type") == ASSET_MANIFEST_ARTIFACT:
                assets += file_assets(directory, other["properties"]["file"])
            elif other.get("type") == STACK_ARTIFACT:
                stack_dependencies.append(dependency)
        stacks.append(
            StackArtifact(
                stack_name=str(properties.get("stackName") or artifact_id),
                artifact_id=artifact_id,
                template=json.loads((directory / properties["templateFile"]).read_text()),
                assembly_dir=directory,
                assets=tuple(assets),
                dependencies=tuple(stack_dependencies),
                tags=tuple((str(k), str(v)) for k, v in (properties.get("tags") or {}).items()),
            )
        )
    return stacks


def _deploy_order(stacks: list[StackArtifact]) -> tuple[StackArtifact, ...]:
    by_id = {stack.artifact_id: stack for stack in stacks}
    ordered: list[StackArtifact] = []
    seen: set[str] = set()

    def visit(stack: StackArtifact) -> None:
        if stack.artifact_id in seen:
            return
        seen.add(stack.artifact_id)
        for dependency in stack.dependencies:
            if dependency in by_id:
                visit(by_id[dependency])
        ordered.append(stack)

    for stack in stacks:
        visit(stack)
    return tuple(ordered)


def app_command(project_dir: Path, app: str | None = None) -> str:
    """``app`` if given, else the ``app`` command of ``project_dir/cdk.json``."""
    if app:
        return app
    cdk_json = project_dir / "cdk.json"
    if not cdk_json.exists():
        raise SynthError(f"no cdk.json in {project_dir}: run from a CDK project, or pass --app")
    command = json.loads(cdk_json.read_text()).get("app")
    if not command:
        raise SynthError(f"{cdk_json} has no app command: add one, or pass --app")
    return str(command)


def app_context(project_dir: Path, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The context the CDK CLI gives the app: cdk.json's, cdk.context.json's, then ``extra``.

    Like the CLI, it asks for path and asset metadata (``aws:cdk:path`` on each resource),
    which is how tests find a resource by construct path.
    """
    context: dict[str, Any] = {
        "aws:cdk:enable-path-metadata": True,
        "aws:cdk:enable-asset-metadata": True,
    }
    cdk_json = project_dir / "cdk.json"
    if cdk_json.exists():
        context.update(json.loads(cdk_json.read_text()).get("context", {}))
    cached = project_dir / "cdk.context.json"
    if cached.exists():
        context.update(json.loads(cached.read_text()))
    context.update(extra or {})
    return context


def synth(
    project_dir: Path,
    outdir: Path,
    *,
    app: str | None = None,
    region: str,
    account: str,
    context: Mapping[str, Any] | None = None,
) -> CloudAssembly:
    """Run the app's command in ``project_dir`` as ``cdk synth`` does; its assembly.

    The command runs through the shell (as the CLI runs a string command), with this
    interpreter's directory first on ``PATH``: ``python app.py`` means the Python running
    the local cloud, as it would in an activated virtual environment.
    """
    project_dir = Path(project_dir).resolve()
    command = app_command(project_dir, app)
    environ = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps(app_context(project_dir, context)),
        "CDK_DEFAULT_REGION": region,
        "CDK_DEFAULT_ACCOUNT": account,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": os.environ.get(
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20"
        ),
    }
    try:
        completed = subprocess.run(  # noqa: S602 - the project's own app command, as the CLI runs it
            command,
            shell=True,
            cwd=project_dir,
            env=environ,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise SynthError(f"the CDK app `{command}` could not be run: {exc}") from exc
    if completed.returncode != 0:
        raise SynthError(
            f"the CDK app failed to synth (`{command}` in {project_dir} exited with "
            f"{completed.returncode}): {_last_line(completed.stderr or completed.stdout)}"
        )
    return read_assembly(outdir)


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def quoted(arguments: list[str]) -> str:
    """A command line for ``--app`` from its arguments."""
    return shlex.join(arguments)
