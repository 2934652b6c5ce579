"""A user's asset is their code alone; the runtime package ships as the construct's layer."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from exactly_once_cdk import ExactlyOnceConsumer, consumer_code, runtime_package_directory
from exactly_once_cdk.code import _staged_runtime_layer

pytestmark = pytest.mark.infra


def asset_files(stack: Stack, outdir: Path) -> dict[str, set[str]]:
    """Each file asset's files, by the resource type that uses it."""
    template = Template.from_stack(stack).to_json()
    by_type: dict[str, set[str]] = {}
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        code = properties.get("Code") or properties.get("Content")
        if not isinstance(code, dict) or "S3Key" not in code:
            continue
        key = str(code["S3Key"])
        (directory,) = outdir.glob(f"asset.{key.removesuffix('.zip')}")
        by_type[resource["Type"]] = {
            p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()
        }
    return by_type


def test_the_function_ships_the_users_package_and_the_layer_the_runtime(tmp_path: Path) -> None:
    # GIVEN a user's source folder with their handler package and some clutter
    source = tmp_path / "src"
    (source / "shipments" / "__pycache__").mkdir(parents=True)
    (source / "shipments" / "__init__.py").write_text("")
    (source / "shipments" / "handler.py").write_text("lambda_handler = None\n")
    (source / "shipments" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"")
    # WHEN a consumer is built with it and synthesized
    outdir = tmp_path / "cdk.out"
    app = App(outdir=str(outdir))
    stack = Stack(app, "Shipments")
    ExactlyOnceConsumer(
        stack,
        "Consumer",
        code=consumer_code(source),
        handler="shipments.handler.lambda_handler",
        service_name="shipments",
        key_prefix="shipments-v1",
        key_path="shipment_id",
    )
    app.synth()
    shipped = asset_files(stack, outdir)
    # THEN the function's asset is their package alone, without caches
    assert shipped["AWS::Lambda::Function"] == {"shipments/__init__.py", "shipments/handler.py"}
    # AND the layer is the whole runtime package under python/, without caches
    runtime = {
        f"python/exactly_once/{p.relative_to(runtime_package_directory()).as_posix()}"
        for p in runtime_package_directory().rglob("*.py")
    }
    assert "python/exactly_once/handler.py" in runtime
    assert runtime <= shipped["AWS::Lambda::LayerVersion"]
    assert not [f for f in shipped["AWS::Lambda::LayerVersion"] if "__pycache__" in f]


def test_the_layer_is_staged_once_per_process() -> None:
    first = _staged_runtime_layer(runtime_package_directory())
    assert _staged_runtime_layer(runtime_package_directory()) == first
    assert (first / "python" / "exactly_once" / "__init__.py").is_file()


def test_a_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"consumer code directory .*nowhere"):
        consumer_code(tmp_path / "nowhere")
