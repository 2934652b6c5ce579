"""Cold-start proxy: each handler module's import in a fresh interpreter, and its readiness.

Two figures per module, from the same child process, each as CPU time (the process's own,
so other work on a shared machine barely moves it) and wall time:

- ``import``: ``import MODULE`` alone;
- ``ready``: the import plus what the first invocation builds before it can handle a batch.
  The Powertools recipe (``bench.baseline_handler``) builds its DynamoDB client, Logger
  and Metrics at import; ``ledger.handler`` (``make_handler``) builds them at its first
  invocation (``lambda_handler.build()``). Only ``ready`` compares like with like: an
  import that defers work to the first invocation is not a colder start.

The recipe is the plain one, without pydantic: it checks the body by hand, as the ledger
does (``bench.baseline``). Each child gets the environment a deployed function would (fake
credentials, a region, the tables' names); nothing is sent over the network.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODULES = {"ours": "ledger.handler", "baseline": "bench.baseline_handler"}
BASELINE_LABEL = "Powertools recipe without pydantic"
# What a module's first invocation builds before it handles a batch (none: built at import).
READY = {"ledger.handler": "ledger.handler.lambda_handler.build()"}
FIGURES = ("import", "ready", "wall_import", "wall_ready")

_CHILD = """
import sys, time
sys.path[:0] = {paths!r}
started, cpu_started = time.perf_counter(), time.process_time()
import {module}
imported, cpu_imported = time.perf_counter(), time.process_time()
{ready}
ready, cpu_ready = time.perf_counter(), time.process_time()
print(cpu_imported - cpu_started, cpu_ready - cpu_started, imported - started, ready - started)
"""

_ENVIRON = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "LEDGER_TABLE_NAME": "ledger",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/ledger-dlq",
    "IDEMPOTENCY_KEY_PREFIX": "ledger-v1",
    "IDEMPOTENCY_KEY_PATH": "transaction_id",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


def import_seconds(module: str) -> dict[str, float]:
    """Seconds to import ``module`` in a fresh interpreter, and to have it ready to handle
    a batch (interpreter start not included): CPU time (``import``, ``ready``) and wall
    time (``wall_import``, ``wall_ready``)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    environ.update(_ENVIRON)
    environ.pop("PYTHONPATH", None)
    code = _CHILD.format(
        paths=[str(ROOT / "functions"), str(ROOT)], module=module, ready=READY.get(module, "")
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    values = result.stdout.strip().splitlines()[-1].split()
    return {figure: float(value) for figure, value in zip(FIGURES, values, strict=True)}


def summary(values: Sequence[float]) -> dict[str, Any]:
    """min, median and max of ``values``, with the values."""
    return {
        "median_seconds": statistics.median(values),
        "min_seconds": min(values),
        "max_seconds": max(values),
        "samples_seconds": list(values),
    }


def median_import_seconds(
    runs: int, modules: Sequence[str] = tuple(MODULES.values())
) -> dict[str, dict[str, Any]]:
    """Per module, the summaries of ``runs`` fresh processes for each of ``FIGURES`` (the
    ``import`` one also flat: ``median_seconds``, ``min_seconds``, ...).

    Modules alternate, and which goes first alternates from run to run, so neither always
    pays for warming the page cache for the modules both import.
    """
    samples: dict[str, dict[str, list[float]]] = {
        module: {figure: [] for figure in FIGURES} for module in modules
    }
    for run in range(runs):
        order = list(modules) if run % 2 == 0 else list(reversed(modules))
        for module in order:
            for figure, seconds in import_seconds(module).items():
                samples[module][figure].append(seconds)
    return {
        module: {
            **summary(values["import"]),
            **{figure: summary(values[figure]) for figure in FIGURES},
            "ready_step": READY.get(module, "none (built at import)"),
        }
        for module, values in samples.items()
    }
