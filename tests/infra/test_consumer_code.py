"""A user's asset is their code alone; the runtime package ships as the construct's layer."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from exactly_once_cdk import (
    SUPPORTED_RUNTIMES,
    ExactlyOnceConsumer,
    consumer_code,
    runtime_package_directory,
)
from exactly_once_cdk import code as code_module
from exactly_once_cdk.code import _staged_runtime_layer, runtime_layer_code, ships_bytecode

THIS_PYTHON = lambda_.Runtime(
    f"python{sys.version_info.major}.{sys.version_info.minor}", lambda_.RuntimeFamily.PYTHON
)
# A runtime this interpreter cannot compile for: its layer ships sources only.
OTHER_PYTHON = next(r for r in SUPPORTED_RUNTIMES if not ships_bytecode(r))

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
        runtime=OTHER_PYTHON,
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


def layer_asset(runtime: lambda_.Runtime, outdir: Path) -> Path:
    """The runtime layer for ``runtime``, synthesized: its asset directory."""
    app = App(outdir=str(outdir))
    stack = Stack(app, "Layer")
    lambda_.LayerVersion(stack, "Runtime", code=runtime_layer_code(runtime))
    app.synth()
    template = Template.from_stack(stack).to_json()
    (layer,) = template["Resources"].values()
    key = str(layer["Properties"]["Content"]["S3Key"]).removesuffix(".zip")
    (directory,) = outdir.glob(f"asset.{key}")
    return directory


def test_the_layer_carries_bytecode_for_the_python_the_app_runs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the layer synthesized for the runtime of this interpreter's version, by an app
    # that keeps its own bytecode elsewhere (PYTHONPYCACHEPREFIX)
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "elsewhere"))
    _staged_runtime_layer.cache_clear()
    asset = layer_asset(THIS_PYTHON, tmp_path / "cdk.out")
    assert sys.pycache_prefix == str(tmp_path / "elsewhere")
    package = asset / "python" / "exactly_once"
    tag = sys.implementation.cache_tag
    # THEN every module has its bytecode beside it, checked against the source's hash
    modules = sorted(p.stem for p in package.glob("*.py"))
    compiled = sorted(p.name.split(".")[0] for p in (package / "__pycache__").glob(f"*.{tag}.pyc"))
    assert modules and compiled == modules
    header = (package / "__pycache__" / f"handler.{tag}.pyc").read_bytes()
    assert int.from_bytes(header[4:8], "little") == 0b11  # PEP 552: hash-based, checked
    # AND a fresh interpreter that may not write (as Lambda's read-only /opt) loads it
    loaded = subprocess.run(
        [sys.executable, "-v", "-c", "import exactly_once.handler"],
        env={**os.environ, "PYTHONPATH": str(asset / "python"), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    assert f"code object from '{package / '__pycache__' / f'handler.{tag}.pyc'}'" in loaded
    # AND its tracebacks name the file where Lambda unpacks the layer
    assert b"/opt/python/exactly_once/handler.py" in header


def test_the_layer_for_another_python_ships_sources_only(tmp_path: Path) -> None:
    asset = layer_asset(OTHER_PYTHON, tmp_path / "cdk.out")
    assert (asset / "python" / "exactly_once" / "handler.py").is_file()
    assert not list(asset.rglob("*.pyc"))


def test_the_staging_directory_is_removed_at_exit_unless_assets_are_read_from_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    removed: list[Path] = []
    monkeypatch.setattr(code_module.atexit, "register", lambda _f, path, **_: removed.append(path))
    stage = _staged_runtime_layer.__wrapped__
    temporary = stage(runtime_package_directory())
    kept = stage(runtime_package_directory(), keep=True)
    assert removed == [temporary]
    assert kept.is_dir()
    # AND an app synthesized with `cdk synth --no-staging` (or by SAM) keeps its layer
    app = App(context={code_module.NO_STAGING_CONTEXT: True})
    runtime_layer_code(OTHER_PYTHON, scope=Stack(app, "NoStaging"))
    assert removed == [temporary]


def test_the_compiled_layer_is_the_same_bytes_each_time() -> None:
    # Hash-based bytecode holds no time stamp: a new synth is not a new layer version.
    def digest(staging: Path) -> str:
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()

    stage = _staged_runtime_layer.__wrapped__
    first = stage(runtime_package_directory(), compiled=True)
    second = stage(runtime_package_directory(), compiled=True)
    assert first != second and digest(first) == digest(second)


def test_the_layer_is_staged_once_per_process() -> None:
    first = _staged_runtime_layer(runtime_package_directory())
    assert _staged_runtime_layer(runtime_package_directory()) == first
    assert (first / "python" / "exactly_once" / "__init__.py").is_file()


def test_a_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"consumer code directory .*nowhere"):
        consumer_code(tmp_path / "nowhere")
