"""A consumer's Lambda asset: the user's own code plus the installed ``exactly_once`` runtime.

A user's project holds only its effect and handler; the runtime package comes from where
pip installed it. Both are copied into one staging directory (pure Python files: no Docker,
no bundling image), which ``Code.from_asset`` then hashes by content, so the asset changes
only when either side does. Powertools and boto3 are not copied: the Powertools layer and
the Lambda runtime provide them.
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
_IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".DS_Store"
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
    """The Lambda code for a consumer whose own modules are in ``directory``.

    :param directory: the folder holding the handler's package (e.g. ``src`` for a
        handler ``shipments.handler.lambda_handler`` in ``src/shipments/handler.py``).
    :param exclude: glob patterns of files in ``directory`` not to ship.
    """
    source = Path(directory).resolve()
    if not source.is_dir():
        raise FileNotFoundError(f"consumer code directory {source} does not exist")
    if (source / RUNTIME_PACKAGE).exists():
        # The directory already carries its own copy (as this repository's functions/ does).
        return lambda_.Code.from_asset(str(source), exclude=[*exclude, "**/__pycache__"])
    return lambda_.Code.from_asset(str(_staged(source, tuple(exclude))))


@functools.cache
def _staged(source: Path, exclude: tuple[str, ...]) -> Path:
    """``source`` and the runtime package in one temporary directory, once per process."""
    digest = hashlib.sha256(str(source).encode()).hexdigest()[:12]
    staging = Path(tempfile.mkdtemp(prefix=f"exactly-once-asset-{digest}-"))
    shutil.copytree(
        source,
        staging,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(*exclude, "__pycache__", "*.pyc", ".*_cache"),
    )
    shutil.copytree(runtime_package_directory(), staging / RUNTIME_PACKAGE, ignore=_IGNORED)
    return staging
