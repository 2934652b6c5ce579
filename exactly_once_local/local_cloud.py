"""`python -m pipeline local up`: the ledger stack on a moto server, with Lambda's poller.

What runs (docs/local-cloud.md says why each piece is needed):

- a moto server on ``localhost:PORT``, every request handled under one lock (moto is not
  atomic per request the way AWS is);
- the stage's ledger stack, synthesized in-process and created through moto's
  CloudFormation (``pipeline.stack.deploy_template_to_moto``), which disables moto's own
  event source mappings (moto cannot run code and would push messages to the DLQ);
- for each mapping, a ``Poller`` with the mapping's batch size and maximum concurrency,
  invoking the function's handler (``Handler`` of its configuration) in this process,
  with the function's environment variables and ``AWS_ENDPOINT_URL`` pointing at moto.

Each poller worker is a warm container of its own: it imports the handler module afresh
(its own boto3 clients, its own handler object). When the entry point is made by
``exactly_once.make_handler`` (as ``ledger.handler``'s is), batch log lines count outcomes
from its ``last_decisions``; otherwise they count records as "unknown".
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pipeline.moto_server import (
    DEFAULT_PORT,
    DEFAULT_REGION,
    LocalEndpoint,
    moto_server,
    patched_environ,
)
from pipeline.poller import Poller
from pipeline.powertools_metrics import drop_when_disabled

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
# Lambda scales a queue's pollers up to MaximumConcurrency (or far beyond without one);
# locally, on a laptop, this many workers per mapping when the mapping sets no maximum.
DEFAULT_CONCURRENCY = 2


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


@dataclass(frozen=True)
class FunctionSettings:
    """What the local runtime takes from the function's configuration."""

    name: str
    handler: str  # "package.module.function"
    environment: dict[str, str]
    timeout_seconds: int

    @classmethod
    def from_api(cls, configuration: dict[str, Any]) -> FunctionSettings:
        return cls(
            name=str(configuration["FunctionName"]),
            handler=str(configuration["Handler"]),
            environment=dict((configuration.get("Environment") or {}).get("Variables") or {}),
            timeout_seconds=int(configuration.get("Timeout") or 3),
        )

    @property
    def module_name(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def entry_point(self) -> str:
        return self.handler.rsplit(".", 1)[1]


class PartialBatchResponseIgnored(Exception):
    """A batch with failures on a mapping without ReportBatchItemFailures: all retried."""


class LocalContainer:
    """One warm Lambda container: the handler module imported afresh, its entry point."""

    def __init__(self, function: FunctionSettings, report_batch_item_failures: bool) -> None:
        self.module = _fresh_import(function.module_name)
        self.entry: Callable[[dict[str, Any], Any], dict[str, Any]] = getattr(
            self.module, function.entry_point
        )
        self.report_batch_item_failures = report_batch_item_failures

    @property
    def last_decisions(self) -> Any:
        """The decisions of the last batch, when the entry point is a ``make_handler`` one."""
        return getattr(self.entry, "last_decisions", None)

    @property
    def dynamodb(self) -> Any:
        """The container's own DynamoDB client (``make_handler``'s), for fault hooks."""
        return self.entry.dynamodb  # type: ignore[attr-defined]

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
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


def _fresh_import(module_name: str) -> ModuleType:
    """Execute the module's code anew (not cached in ``sys.modules``), as a cold start."""
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))
    package, _, _ = module_name.rpartition(".")
    if package:
        importlib.import_module(package)
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.loader is None:
        raise ImportError(f"handler module {module_name} not found under {FUNCTIONS_DIR}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class LocalCloud:
    """A running local cloud: endpoint, stack outputs, and pollers in background threads."""

    endpoint: LocalEndpoint
    stage: str
    outputs: dict[str, str]
    function: FunctionSettings
    mappings: list[MappingSettings]
    pollers: list[Poller]
    _resources: ExitStack
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def endpoint_url(self) -> str:
        return self.endpoint.url

    def start_polling(self) -> None:
        for index, poller in enumerate(self.pollers):
            thread = threading.Thread(
                target=poller.run_until, args=(self._stop,), daemon=True, name=f"mapping-{index}"
            )
            thread.start()
            self._threads.append(thread)

    def wait_until_empty(self, timeout_seconds: float = 60.0) -> bool:
        """Wait until every polled queue has nothing visible or in flight; False on timeout."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if all(poller.is_empty() for poller in self.pollers):
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        """Stop the pollers (after their current batch), the server; restore os.environ.

        Also forgets everything the server held: moto's backends live in this process,
        not in the server, and would make the next local cloud's stack "already exist".
        """
        from moto.moto_api._internal.models import moto_api_backend

        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._resources.close()
        moto_api_backend.reset()

    def describe(self) -> str:
        lines = [
            f"local cloud up: endpoint {self.endpoint_url} (stage {self.stage}, "
            f"region {self.endpoint.region})",
            *(f"  {key}: {value}" for key, value in sorted(self.outputs.items())),
            f"  handler: {self.function.handler} (timeout {self.function.timeout_seconds} s)",
        ]
        for mapping, poller in zip(self.mappings, self.pollers, strict=True):
            lines.append(
                f"  polling {poller.queue_url}: batch size {mapping.batch_size}, "
                f"concurrency {poller.concurrency}, batching window "
                f"{mapping.batching_window_seconds} s, "
                f"ReportBatchItemFailures {'on' if mapping.report_batch_item_failures else 'off'}"
            )
        return "\n".join(lines)


def start_local_cloud(
    port: int = DEFAULT_PORT,
    stage: str = "dev",
    *,
    region: str = DEFAULT_REGION,
    on_batch: Callable[[str], None] = lambda line: None,
    poll: bool = True,
) -> LocalCloud:
    """Start the server, deploy the stack, start the pollers; ``stop()`` undoes it all.

    With ``poll=False`` the pollers are built but not started: a caller (the demo) runs
    its own, with faults around them.

    Sets the function's environment variables and the endpoint's (``AWS_ENDPOINT_URL``,
    region, fake credentials) in ``os.environ`` until ``stop()``: the handler module
    reads them, and its boto3 clients talk to the local server.
    """
    from pipeline.stack import LocalClients, deploy_template_to_moto, event_source_mappings

    resources = ExitStack()
    try:
        endpoint = resources.enter_context(moto_server(port, region=region, serialized=True))
        outputs = _endpoint_urls(
            deploy_template_to_moto(endpoint.url, stage, region=region), endpoint
        )
        clients = LocalClients(endpoint.url, region)
        lambda_client = clients.client("lambda")
        function = FunctionSettings.from_api(
            lambda_client.get_function_configuration(FunctionName=outputs["FunctionName"])
        )
        mappings = [
            MappingSettings.from_api(m) for m in event_source_mappings(clients, function.name)
        ]
        resources.enter_context(patched_environ({**function.environment, **endpoint.environ()}))
        sqs = clients.client("sqs")
        pollers = [
            _poller_for(mapping, function, sqs, on_batch=on_batch, index=index)
            for index, mapping in enumerate(mappings)
        ]
    except BaseException:
        resources.close()
        raise
    cloud = LocalCloud(
        endpoint=endpoint,
        stage=stage,
        outputs=outputs,
        function=function,
        mappings=mappings,
        pollers=pollers,
        _resources=resources,
    )
    if poll:
        cloud.start_polling()
    return cloud


def _endpoint_urls(outputs: dict[str, str], endpoint: LocalEndpoint) -> dict[str, str]:
    """moto's CloudFormation outputs AWS-style queue URLs: give them the local endpoint.

    (boto3 with ``endpoint_url`` accepts either; the AWS CLI user copies what is printed.)
    """
    aws_prefix = f"https://sqs.{endpoint.region}.amazonaws.com/"
    return {
        key: endpoint.url + "/" + value.removeprefix(aws_prefix)
        if value.startswith(aws_prefix)
        else value
        for key, value in outputs.items()
    }


def _poller_for(
    mapping: MappingSettings,
    function: FunctionSettings,
    sqs: Any,
    *,
    on_batch: Callable[[str], None],
    index: int,
) -> Poller:
    queue_name = mapping.queue_arn.rsplit(":", 1)[-1]
    queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]

    def factory(worker: int) -> LocalContainer:
        return LocalContainer(function, mapping.report_batch_item_failures)

    def log(line: str) -> None:
        on_batch(f"[{queue_name} #{index}] {line}")

    return Poller(
        sqs=sqs,
        queue_url=queue_url,
        queue_arn=mapping.queue_arn,
        handler_factory=factory,
        batch_size=mapping.batch_size,
        batching_window_seconds=float(mapping.batching_window_seconds),
        concurrency=mapping.maximum_concurrency or DEFAULT_CONCURRENCY,
        timeout_seconds=float(function.timeout_seconds),
        on_batch=log,
    )


def quiet_moto() -> None:
    """moto's notes on template resources it skips (alarms, queue policies) are not news."""
    warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
    logging.getLogger("moto.cloudformation.parsing").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.ERROR)  # CloudFormation parsing logs as "moto"


def run_local_up(port: int = DEFAULT_PORT, stage: str = "dev") -> int:
    """Start the local cloud, print where everything is, log batches until Ctrl-C.

    Ctrl-C (SIGINT) or SIGTERM stops it cleanly: the pollers finish their current batch,
    then the server stops.
    """

    def log(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    # Installed explicitly: a shell's background job inherits SIGINT ignored, and
    # SIGTERM (docker stop, kill) deserves the same clean shutdown.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    quiet_moto()
    print(f"starting moto on localhost:{port} and deploying the {stage} ledger stack...")
    cloud = start_local_cloud(port, stage, on_batch=log)
    try:
        print(cloud.describe(), flush=True)
        print("send messages with the AWS CLI or boto3 against the endpoint; Ctrl-C to stop.")
        stop.wait()
        print("\nstopping: pollers finish their current batch...", flush=True)
    finally:
        cloud.stop()
    print("local cloud stopped.", flush=True)
    return 0
