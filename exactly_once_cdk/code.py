"""A consumer's Lambda code, and the runtime package as a Lambda layer of its own.

A user's project holds only its effect and handler: ``consumer_code`` ships that directory
as it is. The ``exactly_once`` runtime ships once, as a layer the construct adds to the
function (``runtime_layer_code``): the installed package's files under
``python/exactly_once/``, where Lambda puts layers on the path (pure Python files: no
Docker, no bundling image). ``Code.from_asset`` hashes each by content, so an asset
changes only when its files do. Powertools and boto3 ship in neither: the Powertools layer
and the Lambda runtime provide them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

RUNTIME_PACKAGE = "exactly_once"
# Where a Python layer's packages go: Lambda adds /opt/python to the path.
LAYER_PYTHON_DIRECTORY = "python"
_CACHES = ("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".DS_Store")
ASSET_EXCLUDES = (
    "**/__pycache__",
    "**/__pycache__/**",
    "**/*.pyc",
    "**/.mypy_cache",
    "**/.mypy_cache/**",
    "**/.pytest_cache",
    "**/.pytest_cache/**",
    "**/.ruff_cache",
    "**/.ruff_cache/**",
    "**/.DS_Store",
)


def runtime_package_directory() -> Path:
    """Where the installed ``exactly_once`` package lives (found, not imported: the CDK app
    need not be able to run the runtime)."""
    spec = importlib.util.find_spec(RUNTIME_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the {RUNTIME_PACKAGE} package is not installed: pip install exactly-once-sqs"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def consumer_code(directory: str | Path, *, exclude: Sequence[str] = ()) -> lambda_.Code:
    """The Lambda code for a consumer whose own modules are in ``directory``: that directory
    alone, without caches (the construct adds the runtime package as a layer).

    :param directory: the folder holding the handler's package (e.g. ``src`` for a
        handler ``shipments.handler.lambda_handler`` in ``src/shipments/handler.py``).
    :param exclude: glob patterns of files in ``directory`` not to ship.
    """
    source = Path(directory).resolve()
    if not source.is_dir():
        raise FileNotFoundError(f"consumer code directory {source} does not exist")
    return lambda_.Code.from_asset(str(source), exclude=[*exclude, *ASSET_EXCLUDES])


def runtime_layer_code() -> lambda_.Code:
    """The runtime layer's content: the installed ``exactly_once`` package under
    ``python/``, staged once per process."""
    return lambda_.Code.from_asset(str(_staged_runtime_layer(runtime_package_directory())))


@functools.cache
def _staged_runtime_layer(package: Path) -> Path:
    """``package`` copied to ``python/exactly_once/`` in a temporary directory."""
    digest = hashlib.sha256(str(package).encode()).hexdigest()[:12]
    staging = Path(tempfile.mkdtemp(prefix=f"exactly-once-layer-{digest}-"))
    shutil.copytree(
        package,
        staging / LAYER_PYTHON_DIRECTORY / RUNTIME_PACKAGE,
        ignore=shutil.ignore_patterns(*_CACHES),
    )
    return staging
