"""The local Lambda runtime: a Python function's handler imported from its own code.

What the poller takes from a deployed function and its event source mapping (read back
from moto's Lambda API), and ``LocalContainer``: one warm container, the handler module
executed afresh from the function's code directory (its asset in the cloud assembly),
invoked with the function's environment variables (``function_environ``). What the
function writes (its log lines, its metrics) goes to its own log file
(``function_logs``), as Lambda sends it to CloudWatch Logs, not to the console.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from exactly_once_local.function_environ import function_environment
from exactly_once_local.function_logs import FunctionLog, function_log
from exactly_once_local.powertools_metrics import LOCAL_METRICS_ENVIRONMENT, drop_when_disabled

_IMPORT_LOCK = threading.RLock()


class HandlerImportError(Exception):
    """A function's handler could not be imported (one line for the user)."""


class PartialBatchResponseIgnored(Exception):
    """A batch with failures on a mapping without ReportBatchItemFailures: all retried."""


@dataclass(frozen=True)
class MappingSettings:
    """What the poller takes from one event source mapping."""

    uuid: str
    queue_arn: str
    batch_size: int
    batching_window_seconds: int
    maximum_concurrency: int | None
    report_batch_item_failures: bool

    @classmethod
    def from_api(cls, mapping: dict[str, Any]) -> MappingSettings:
        scaling = mapping.get("ScalingConfig") or {}
        return cls(
            uuid=str(mapping["UUID"]),
            queue_arn=str(mapping["EventSourceArn"]),
            batch_size=int(mapping.get("BatchSize") or 10),
            batching_window_seconds=int(mapping.get("MaximumBatchingWindowInSeconds") or 0),
            maximum_concurrency=(
                int(scaling["MaximumConcurrency"]) if scaling.get("MaximumConcurrency") else None
            ),
            report_batch_item_failures="ReportBatchItemFailures"
            in (mapping.get("FunctionResponseTypes") or []),
        )

    @property
    def is_sqs(self) -> bool:
        return self.queue_arn.startswith("arn:") and ":sqs:" in self.queue_arn


@dataclass(frozen=True)
class FunctionSettings:
    """What the local runtime takes from the function's configuration."""

    name: str
    handler: str  # "package.module.function"
    environment: dict[str, str]
    timeout_seconds: int
    runtime: str = "python3.13"
    code_dir: Path | None = None  # where its code is; None: already importable

    @classmethod
    def from_api(
        cls, configuration: dict[str, Any], code_dir: Path | None = None
    ) -> FunctionSettings:
        return cls(
            name=str(configuration["FunctionName"]),
            handler=str(configuration.get("Handler") or ""),
            environment=dict((configuration.get("Environment") or {}).get("Variables") or {}),
            timeout_seconds=int(configuration.get("Timeout") or 3),
            runtime=str(configuration.get("Runtime") or ""),
            code_dir=code_dir,
        )

    @property
    def is_python(self) -> bool:
        return self.runtime.startswith("python")

    @property
    def module_name(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def entry_point(self) -> str:
        return self.handler.rsplit(".", 1)[-1]


class LocalContainer:
    """One warm Lambda container: the handler module imported afresh, its entry point,
    run with the function's environment variables, its output in ``log`` (by default the
    function's log in ``function_logs.log_dir()``)."""

    def __init__(
        self,
        function: FunctionSettings,
        report_batch_item_failures: bool,
        log: FunctionLog | None = None,
    ) -> None:
        self.function = function
        self.report_batch_item_failures = report_batch_item_failures
        self.log = log if log is not None else function_log(function.name)
        # Metrics flush after each invocation, into the log (see powertools_metrics).
        self._environment = {**function.environment, **LOCAL_METRICS_ENVIRONMENT}
        with function_environment(function.environment), self.log.capture():
            self.module = import_handler_module(function)
            entry = getattr(self.module, function.entry_point, None)
        if not callable(entry):
            raise HandlerImportError(
                f"function {function.name}: handler {function.handler}: module "
                f"{function.module_name} has no function {function.entry_point}"
            )
        self.entry: Callable[[dict[str, Any], Any], dict[str, Any]] = entry

    @property
    def last_decisions(self) -> Any:
        """The decisions of the last batch, when the entry point is a ``make_handler`` one."""
        return getattr(self.entry, "last_decisions", None)

    @property
    def dynamodb(self) -> Any:
        """The container's own DynamoDB client (``make_handler``'s), for fault hooks."""
        with function_environment(self.function.environment):
            return self.entry.dynamodb  # type: ignore[attr-defined]

    @property
    def sqs(self) -> Any:
        """The container's own SQS client (dead letters, downstream sends), for fault hooks."""
        with function_environment(self.function.environment):
            return self.entry.sqs  # type: ignore[attr-defined]

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        request_id = str(getattr(context, "aws_request_id", "") or "local")
        with function_environment(self._environment), self.log.invocation(request_id):
            try:
                response = self.entry(event, context) or {}
            finally:
                drop_when_disabled(vars(self.module).values())
        if not self.report_batch_item_failures and response.get("batchItemFailures"):
            # Without ReportBatchItemFailures, Lambda ignores the partial response: a
            # "successful" invocation deletes the whole batch. Failing it is the safe
            # reading locally, and makes the misconfiguration visible.
            raise PartialBatchResponseIgnored(
                "batchItemFailures returned but the mapping lacks ReportBatchItemFailures"
            )
        return response


def import_handler_module(function: FunctionSettings) -> ModuleType:
    """Execute the handler's module anew (not cached in ``sys.modules``), as a cold start.

    Its package comes from the function's code directory, put on ``sys.path`` (several
    functions may share one directory); a top-level module is looked up in that
    directory alone. Any failure is a ``HandlerImportError`` naming the function.
    """
    try:
        with _IMPORT_LOCK:
            return _fresh_import(function.module_name, function.code_dir)
    except HandlerImportError:
        raise
    except Exception as exc:
        raise HandlerImportError(
            f"function {function.name}: handler {function.handler} failed to import: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _fresh_import(module_name: str, code_dir: Path | None) -> ModuleType:
    if not module_name:
        raise ImportError("the function has no handler")
    package, _, _ = module_name.rpartition(".")
    if package:
        if code_dir is not None and str(code_dir) not in sys.path:
            sys.path.insert(0, str(code_dir))
        importlib.import_module(package)
        spec = importlib.util.find_spec(module_name)
    elif code_dir is not None:
        spec = importlib.machinery.PathFinder.find_spec(module_name, [str(code_dir)])
    else:
        spec = importlib.util.find_spec(module_name)
    if spec is None or spec.loader is None:
        where = f" in {code_dir}" if code_dir is not None else ""
        raise ModuleNotFoundError(f"no module named {module_name}{where}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
