"""Cold-start proxy: each handler module's import in a fresh interpreter, and its readiness.

Two figures per module, from the same child process, each as CPU time (the process's own,
user and system, so other work on a shared machine moves it less) and wall time:

- ``import``: ``import MODULE`` alone;
- ``ready``: the import plus what the first invocation builds before it can handle a batch.
  The Powertools recipe (``bench.baseline_handler``) builds its DynamoDB client, Logger
  and Metrics at import; ``ledger.handler`` (``make_handler``) builds them at its first
  invocation (``lambda_handler.build()``). Only ``ready`` compares like with like: an
  import that defers work to the first invocation is not a colder start.

Each child also counts the minor page faults up to ``ready``: the memory a cold start
touches for the first time, costed as system time, and the same from run to run (unlike
the times, which a busy machine stretches).

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
import resource, sys, time
sys.path[:0] = {paths!r}
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
started, cpu_started = time.perf_counter(), time.process_time()
import {module}
imported, cpu_imported = time.perf_counter(), time.process_time()
{ready}
ready, cpu_ready = time.perf_counter(), time.process_time()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
print(cpu_imported - cpu_started, cpu_ready - cpu_started, imported - started, ready - started,
      faults)
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
    time (``wall_import``, ``wall_ready``); and the minor page faults until ready
    (``page_faults``)."""
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
    *values, faults = result.stdout.strip().splitlines()[-1].split()
    measured = {figure: float(value) for figure, value in zip(FIGURES, values, strict=True)}
    return {**measured, "page_faults": float(faults)}


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
    ``import`` one also flat: ``median_seconds``, ``min_seconds``, ...), and the page
    faults' (``page_faults``: ``median``, ``min``, ``max``).

    Modules alternate, and which goes first alternates from run to run, so neither always
    pays for warming the page cache for the modules both import. The ``i``-th sample of
    each module comes from the same run, one right after the other: ``paired_ratios``
    compares them pair by pair.
    """
    samples: dict[str, dict[str, list[float]]] = {
        module: {figure: [] for figure in (*FIGURES, "page_faults")} for module in modules
    }
    for run in range(runs):
        order = list(modules) if run % 2 == 0 else list(reversed(modules))
        for module in order:
            for figure, value in import_seconds(module).items():
                samples[module][figure].append(value)
    return {
        module: {
            **summary(values["import"]),
            **{figure: summary(values[figure]) for figure in FIGURES},
            "page_faults": {
                "median": statistics.median(values["page_faults"]),
                "min": min(values["page_faults"]),
                "max": max(values["page_faults"]),
            },
            "ready_step": READY.get(module, "none (built at import)"),
        }
        for module, values in samples.items()
    }


def paired_ratios(ours: dict[str, Any], baseline: dict[str, Any]) -> list[float]:
    """Run by run, ours over the baseline, for one figure's summaries (``ready``): each pair
    ran back to back, so a busy spell of the machine tends to stretch both."""
    return [
        mine / theirs
        for mine, theirs in zip(ours["samples_seconds"], baseline["samples_seconds"], strict=True)
    ]
