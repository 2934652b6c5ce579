"""A user's asset: their code plus the installed runtime package, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from exactly_once_cdk import consumer_code, runtime_package_directory
from exactly_once_cdk.code import _staged

pytestmark = pytest.mark.infra


def test_the_asset_holds_the_users_package_and_the_runtime(tmp_path: Path) -> None:
    # GIVEN a user's source folder with their handler package and some clutter
    source = tmp_path / "src"
    (source / "shipments" / "__pycache__").mkdir(parents=True)
    (source / "shipments" / "__init__.py").write_text("")
    (source / "shipments" / "handler.py").write_text("lambda_handler = None\n")
    (source / "shipments" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"")
    # WHEN it is staged for the asset
    consumer_code(source)
    staged = _staged(source.resolve(), ())
    # THEN it holds their package and the runtime package, without caches
    files = {str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file()}
    assert {"shipments/__init__.py", "shipments/handler.py", "exactly_once/handler.py"} <= files
    assert not [f for f in files if "__pycache__" in f]
    runtime = {
        str(p.relative_to(runtime_package_directory()))
        for p in runtime_package_directory().rglob("*.py")
    }
    assert {f"exactly_once/{f}" for f in runtime} <= files


def test_a_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"consumer code directory .*nowhere"):
        consumer_code(tmp_path / "nowhere")
