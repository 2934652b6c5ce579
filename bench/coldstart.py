"""Cold-start proxy: a handler module's import time, each in a fresh interpreter.

Both modules build their clients and handler at import, as Lambda's init phase does, so
each child gets the environment a deployed function would (fake credentials, a region,
the tables' names); nothing is sent over the network.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = {"ours": "ledger.handler", "baseline": "bench.baseline_handler"}

_CHILD = """
import sys, time
sys.path[:0] = {paths!r}
started = time.perf_counter()
import {module}
print(time.perf_counter() - started)
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


def import_seconds(module: str) -> float:
    """Seconds to import ``module`` in a fresh interpreter (interpreter start not included)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    environ.update(_ENVIRON)
    environ.pop("PYTHONPATH", None)
    code = _CHILD.format(paths=[str(ROOT / "functions"), str(ROOT)], module=module)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return float(result.stdout.strip().splitlines()[-1])


def median_import_seconds(
    runs: int, modules: Sequence[str] = tuple(MODULES.values())
) -> dict[str, dict[str, object]]:
    """The median and min-max of ``runs`` imports per module.

    Modules alternate, and which goes first alternates from run to run, so neither always
    pays for warming the page cache for the modules both import.
    """
    samples: dict[str, list[float]] = {module: [] for module in modules}
    for run in range(runs):
        order = list(modules) if run % 2 == 0 else list(reversed(modules))
        for module in order:
            samples[module].append(import_seconds(module))
    return {
        module: {
            "median_seconds": statistics.median(values),
            "min_seconds": min(values),
            "max_seconds": max(values),
            "samples_seconds": values,
        }
        for module, values in samples.items()
    }
