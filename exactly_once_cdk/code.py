"""A consumer's Lambda code, and the runtime package as a Lambda layer of its own.

A user's project holds only its effect and handler: ``consumer_code`` ships that directory
as it is. The ``exactly_once`` runtime ships once, as a layer the construct adds to the
function (``runtime_layer_code``): the installed package's files under
``python/exactly_once/``, where Lambda puts layers on the path (pure Python files: no
Docker, no bundling image). ``Code.from_asset`` hashes each by content, so an asset
changes only when its files do. Powertools and boto3 ship in neither: the Powertools layer
and the Lambda runtime provide them.

Bytecode: Lambda's ``/opt`` is read-only, so a layer without ``.pyc`` files is compiled
again on every cold start (the runtime package: about 16 ms of CPU, ``docs/cold-start.md``).
When the CDK app runs on the function runtime's Python version, the layer also carries the
modules' bytecode for it, compiled with the source's hash rather than its time stamp
(PEP 552: valid after any unzip, and still checked against the source). The bytes are the
same from one synth to the next, so the asset changes only when the code or the
interpreter's version does. On another version no bytecode is shipped (it could not be
used), and nothing else changes.
"""

from __future__ import annotations

import atexit
import compileall
import functools
import hashlib
import importlib.util
import py_compile
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

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


# Set by `cdk synth --no-staging` and SAM: assets are then read where they were made,
# after this process has ended.
NO_STAGING_CONTEXT = "aws:cdk:disable-asset-staging"


def runtime_layer_code(
    runtime: lambda_.Runtime | None = None, *, scope: Construct | None = None
) -> lambda_.Code:
    """The runtime layer's content: the installed ``exactly_once`` package under
    ``python/``, staged once per process; with its bytecode when ``runtime`` is the Python
    this app runs on (``ships_bytecode``). The staging directory is removed when the
    process ends, unless ``scope``'s app disables asset staging."""
    compiled = runtime is not None and ships_bytecode(runtime)
    keep = scope is not None and bool(scope.node.try_get_context(NO_STAGING_CONTEXT))
    return lambda_.Code.from_asset(
        str(_staged_runtime_layer(runtime_package_directory(), compiled=compiled, keep=keep))
    )


def ships_bytecode(runtime: lambda_.Runtime) -> bool:
    """Whether the runtime layer carries bytecode for ``runtime``: only for the Python
    version this process runs (another version's ``.pyc`` files would be ignored)."""
    return runtime.name == f"python{sys.version_info.major}.{sys.version_info.minor}"


@functools.cache
def _staged_runtime_layer(package: Path, *, compiled: bool = False, keep: bool = False) -> Path:
    """``package`` copied to ``python/exactly_once/`` in a temporary directory, and
    compiled there if ``compiled``. Unless ``keep``, the directory is removed when the
    process ends: by then the synth has copied it into the cloud assembly."""
    digest = hashlib.sha256(str(package).encode()).hexdigest()[:12]
    staging = Path(tempfile.mkdtemp(prefix=f"exactly-once-layer-{digest}-"))
    if not keep:
        atexit.register(shutil.rmtree, staging, ignore_errors=True)
    target = staging / LAYER_PYTHON_DIRECTORY / RUNTIME_PACKAGE
    shutil.copytree(package, target, ignore=shutil.ignore_patterns(*_CACHES))
    if compiled:
        # Beside the sources, where Lambda looks, even if this app sets PYTHONPYCACHEPREFIX.
        prefix, sys.pycache_prefix = sys.pycache_prefix, None
        try:
            compiled_all = compileall.compile_dir(
                target,
                quiet=1,
                # Where Lambda unpacks the layer, for the file names in tracebacks.
                ddir=f"/opt/{LAYER_PYTHON_DIRECTORY}/{RUNTIME_PACKAGE}",
                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
                optimize=0,  # the plain .pyc Lambda loads, whatever -O this app runs with
                workers=1,
            )
        finally:
            sys.pycache_prefix = prefix
        if not compiled_all:
            raise RuntimeError(f"could not compile the {RUNTIME_PACKAGE} package in {target}")
    return staging
