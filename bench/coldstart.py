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

Where valgrind is installed, each side's instructions from the import to ready are also
counted (cachegrind, a fixed hash seed): a count that, unlike any time, a busy machine does
not move, so a gap of a few percent reads the same in every run.

The recipe is the plain one, without pydantic: it checks the body by hand, as the ledger
does (``bench.baseline``). Each child gets the environment a deployed function would (fake
credentials, a region, the tables' names); nothing is sent over the network.
"""

from __future__ import annotations

import os
import re
import shutil
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

# Ends with os._exit: a Lambda container is not torn down after its cold start, so neither is
# the child (tearing down ~500 modules costs about 70 ms, which the instruction count, start
# to exit, would otherwise include).
_CHILD = """
import os, resource, sys, time
sys.path[:0] = {paths!r}
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
started, cpu_started = time.perf_counter(), time.process_time()
import {module}
imported, cpu_imported = time.perf_counter(), time.process_time()
{ready}
ready, cpu_ready = time.perf_counter(), time.process_time()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
print(cpu_imported - cpu_started, cpu_ready - cpu_started, imported - started, ready - started,
      faults, flush=True)
os._exit(0)
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


# Variables of the caller's that would change what a child does: its import path, and where
# (or whether) it reads and writes bytecode. With PYTHONDONTWRITEBYTECODE inherited, a module
# whose .pyc is stale would be compiled again in every child, on one side and not the other.
_NOT_INHERITED = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")


def child_environment(*, counting: bool = False) -> dict[str, str]:
    """A child's environment: the caller's, less its AWS, Powertools and bytecode settings,
    plus a deployed function's (fake credentials, a region, the tables' names). Counting
    instructions: the same hash seed in every run, so the same work."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "POWERTOOLS_")) and k not in _NOT_INHERITED
    }
    environ.update(_ENVIRON)
    if counting:
        environ["PYTHONHASHSEED"] = "0"
    return environ


def _child(module: str, ready: str, *, prefix: Sequence[str] = (), timeout: float = 120) -> Any:
    """Run the child script for ``module`` in a fresh interpreter (after ``prefix``, a tool
    that runs it), with a deployed function's environment."""
    code = _CHILD.format(paths=[str(ROOT / "functions"), str(ROOT)], module=module, ready=ready)
    return subprocess.run(
        [*prefix, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=child_environment(counting=bool(prefix)),
        cwd=ROOT,
        check=True,
        timeout=timeout,
    )


def warm_up(modules: Sequence[str]) -> None:
    """One unmeasured child per module first: it writes the bytecode of any module whose
    .pyc is missing or stale, so no measured child compiles (each side's modules are then
    read from bytecode, as the construct's layer ships the exactly_once package)."""
    for module in modules:
        _child(module, READY.get(module, ""))


def import_seconds(module: str) -> dict[str, float]:
    """Seconds to import ``module`` in a fresh interpreter, and to have it ready to handle
    a batch (interpreter start not included): CPU time (``import``, ``ready``) and wall
    time (``wall_import``, ``wall_ready``); and the minor page faults until ready
    (``page_faults``)."""
    result = _child(module, READY.get(module, ""))
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
    warm_up(modules)
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


# valgrind's cachegrind without its cache model: it only counts instructions ("I refs").
VALGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")
_INSTRUCTIONS = re.compile(r"I\s+refs:\s+([\d,]+)")


def valgrind_missing() -> str | None:
    """Why instructions cannot be counted here, or None."""
    if shutil.which(VALGRIND[0]) is None:
        return "valgrind is not installed (apt install valgrind)"
    return None


def child_instructions(module: str | None) -> int:
    """Instructions a fresh interpreter executes running the child script for ``module``,
    from its start to ready (the script then leaves without tearing down); ``None``: the
    same script without the import and the ready step."""
    ready = READY.get(module, "") if module else ""
    result = _child(module or "sys", ready, prefix=VALGRIND, timeout=600)
    found = _INSTRUCTIONS.findall(result.stderr)
    if not found:
        raise RuntimeError(f"no instruction count in valgrind's output: {result.stderr[-500:]}")
    return int(found[-1].replace(",", ""))


def instructions_to_ready(
    runs: int, modules: Sequence[str] = tuple(MODULES.values())
) -> dict[str, dict[str, Any]] | str:
    """Per module, the instructions from its import to ready to handle a batch, over
    ``runs`` fresh interpreters each (``median``, ``min``, ``max``, ``samples``): each
    child's count less the median of a child that imports nothing (the interpreter's own
    start, ``interpreter``). Or, if valgrind fails, why: the bench goes on without the
    count rather than lose what it measured before."""
    try:
        return _instructions_to_ready(runs, modules)
    except (subprocess.SubprocessError, RuntimeError) as error:
        detail = " ".join(str(getattr(error, "stderr", None) or "").split())[-300:]
        return f"valgrind failed: {error}" + (f" ({detail})" if detail else "")


def _instructions_to_ready(runs: int, modules: Sequence[str]) -> dict[str, dict[str, Any]]:
    warm_up(modules)
    interpreter = statistics.median(child_instructions(None) for _ in range(runs))
    result: dict[str, dict[str, Any]] = {}
    for module in modules:
        samples = [child_instructions(module) - interpreter for _ in range(runs)]
        result[module] = {
            "median": statistics.median(samples),
            "min": min(samples),
            "max": max(samples),
            "samples": samples,
            "interpreter": interpreter,
        }
    return result
