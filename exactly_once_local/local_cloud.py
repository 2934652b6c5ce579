"""The local cloud: a CDK app's stacks on a moto server, with Lambda's SQS poller played.

What runs (docs/local-cloud.md says why each piece is needed):

- a moto server on ``localhost:PORT``, every request handled under one lock (moto is not
  atomic per request the way AWS is);
- each stack of the app's cloud assembly (``exactly_once_local.assembly``) created
  through moto's CloudFormation (``exactly_once_local.moto_deploy``), which disables
  moto's own event source mappings (moto cannot run code and would push messages to
  the DLQ);
- for each SQS event source mapping of each stack, a ``Poller`` with the mapping's batch
  size, batching window and maximum concurrency, invoking the function's handler in this
  process (``exactly_once_local.runtime``): imported from the function's own asset
  directory, with its environment variables and timeout, and ``AWS_ENDPOINT_URL``
  pointing at moto.

Each poller worker is a warm container of its own: it imports the handler module afresh
(its own boto3 clients, its own handler object). When the entry point is made by
``exactly_once.make_handler``, batch log lines count outcomes from its
``last_decisions``; otherwise they count records as "unknown".

The console gets one line per batch (``on_batch``); what the functions write (their JSON
log lines, their EMF metrics) goes to each function's log file in ``log_dir``
(``exactly_once_local.function_logs``), as Lambda sends it to CloudWatch Logs.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exactly_once_local.assembly import CloudAssembly, StackArtifact
from exactly_once_local.function_environ import install as install_function_environ
from exactly_once_local.function_logs import FunctionLog, function_log
from exactly_once_local.moto_deploy import (
    LocalClients,
    deploy_stack,
    event_source_mappings,
    function_names,
)
from exactly_once_local.moto_server import (
    DEFAULT_PORT,
    DEFAULT_REGION,
    LocalEndpoint,
    moto_server,
    patched_environ,
)
from exactly_once_local.poller import Poller
from exactly_once_local.runtime import (
    FunctionSettings,
    HandlerImportError,
    LocalContainer,
    MappingSettings,
    PartialBatchResponseIgnored,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "Consumer",
    "ConsumerPlan",
    "DeployedStack",
    "FunctionSettings",
    "HandlerImportError",
    "LocalCloud",
    "LocalCloudError",
    "LocalContainer",
    "MappingSettings",
    "PartialBatchResponseIgnored",
    "check_port_free",
    "plan_consumers",
    "quiet_moto",
    "start_local_cloud",
]

# Lambda scales a queue's pollers up to MaximumConcurrency (or far beyond without one);
# locally, on a laptop, this many workers per mapping when the mapping sets no maximum.
DEFAULT_CONCURRENCY = 2


class LocalCloudError(Exception):
    """The app cannot run on the local cloud (one line for the user)."""


@dataclass(frozen=True)
class ConsumerPlan:
    """One SQS event source mapping of a stack's template and the function it invokes."""

    stack_name: str
    mapping_id: str
    function_id: str
    handler: str
    code_dir: Path | None


@dataclass
class Consumer:
    """One mapping played locally: the function it invokes and the poller."""

    stack_name: str
    function: FunctionSettings
    mapping: MappingSettings
    poller: Poller
    log: FunctionLog | None = None


@dataclass(frozen=True)
class DeployedStack:
    name: str
    outputs: dict[str, str]


def _referenced_id(value: Any) -> str | None:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return None


def _is_sqs_source(stack: StackArtifact, source: Any) -> bool:
    if isinstance(source, str):
        return ":sqs:" in source
    referenced = _referenced_id(source)
    resources = stack.template.get("Resources", {})
    return referenced is not None and resources.get(referenced, {}).get("Type") == (
        "AWS::SQS::Queue"
    )


def _code_dir(stack: StackArtifact, function_id: str, code: Any) -> Path | None:
    """The directory of the function's code: its file asset in the assembly."""
    key = code.get("S3Key") if isinstance(code, dict) else None
    for asset in stack.assets:
        if asset.object_key == key and asset.source_path.is_dir():
            return asset.source_path
    raise LocalCloudError(
        f"stack {stack.stack_name}: function {function_id}: its code is not a directory "
        "asset of the cloud assembly (Code.fromAsset), which the local cloud needs"
    )


def plan_consumers(stack: StackArtifact) -> list[ConsumerPlan]:
    """The stack's SQS event source mappings and their functions, checked: each a Python
    function with its code in a directory asset."""
    resources = stack.template.get("Resources", {})
    plans: list[ConsumerPlan] = []
    for mapping_id, mapping in stack.resources_of_type("AWS::Lambda::EventSourceMapping").items():
        properties = mapping.get("Properties", {})
        if not _is_sqs_source(stack, properties.get("EventSourceArn")):
            continue
        function_id = _referenced_id(properties.get("FunctionName"))
        function = resources.get(function_id or "", {})
        if function.get("Type") != "AWS::Lambda::Function":
            raise LocalCloudError(
                f"stack {stack.stack_name}: mapping {mapping_id} invokes a function that is "
                "not in the stack, which the local cloud cannot run"
            )
        assert function_id is not None
        function_properties = function.get("Properties", {})
        runtime = str(function_properties.get("Runtime", "?"))
        if not runtime.startswith("python"):
            raise LocalCloudError(
                f"stack {stack.stack_name}: function {function_id} runs on {runtime}; the "
                "local cloud runs Python functions only"
            )
        plans.append(
            ConsumerPlan(
                stack_name=stack.stack_name,
                mapping_id=mapping_id,
                function_id=function_id,
                handler=str(function_properties.get("Handler", "")),
                code_dir=_code_dir(stack, function_id, function_properties.get("Code")),
            )
        )
    return plans


@dataclass
class LocalCloud:
    """A running local cloud: endpoint, deployed stacks, and their pollers."""

    endpoint: LocalEndpoint
    stacks: dict[str, DeployedStack]
    consumers: list[Consumer]
    _resources: ExitStack
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def endpoint_url(self) -> str:
        return self.endpoint.url

    @property
    def pollers(self) -> list[Poller]:
        return [consumer.poller for consumer in self.consumers]

    @property
    def outputs(self) -> dict[str, str]:
        """The outputs of the one stack deployed (``stacks[name].outputs`` for several)."""
        (stack,) = self.stacks.values()
        return stack.outputs

    @property
    def function(self) -> FunctionSettings:
        """The one function polled for (``consumers`` for several)."""
        (function,) = {c.function.name: c.function for c in self.consumers}.values()
        return function

    @property
    def mappings(self) -> list[MappingSettings]:
        return [consumer.mapping for consumer in self.consumers]

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
        """Stop the pollers (after their current batch), the server; restore os.environ;
        close the functions' log files.

        Also forgets everything the server held: moto's backends live in this process,
        not in the server, and would make the next local cloud's stack "already exist".
        """
        from moto.moto_api._internal.models import moto_api_backend

        self._stop.set()
        for thread in self._threads:
            thread.join()
        for log in {id(c.log): c.log for c in self.consumers if c.log is not None}.values():
            log.close()
        self._resources.close()
        moto_api_backend.reset()

    def describe(self) -> str:
        lines = [f"local cloud up: endpoint {self.endpoint_url} (region {self.endpoint.region})"]
        for stack in self.stacks.values():
            lines.append(f"stack {stack.name}")
            lines += [f"  {key}: {value}" for key, value in sorted(stack.outputs.items())]
            for consumer in self.consumers:
                if consumer.stack_name == stack.name:
                    lines += _describe_consumer(consumer)
        return "\n".join(lines)


def _describe_consumer(consumer: Consumer) -> list[str]:
    function, mapping, poller = consumer.function, consumer.mapping, consumer.poller
    code = f", code {function.code_dir.name}" if function.code_dir else ""
    log = [f"    log {consumer.log.path}"] if consumer.log is not None else []
    return [
        f"  function {function.name}: handler {function.handler} ({function.runtime}, "
        f"timeout {function.timeout_seconds} s{code})",
        *log,
        f"    polling {poller.queue_url}: batch size {mapping.batch_size}, "
        f"concurrency {poller.concurrency}, batching window "
        f"{mapping.batching_window_seconds} s, "
        f"ReportBatchItemFailures {'on' if mapping.report_batch_item_failures else 'off'}",
    ]


def select_stacks(
    assembly: CloudAssembly, names: Sequence[str] | None, warn: Callable[[str], None]
) -> tuple[list[StackArtifact], dict[str, list[ConsumerPlan]]]:
    """The stacks to deploy (those asked for, or all, with what they depend on) and the
    consumer plans of those with an SQS mapping; a stack without one is skipped."""
    chosen = [assembly.stack(name) for name in names] if names else list(assembly.stacks)
    if not chosen:
        raise LocalCloudError("the CDK app has no stacks")
    plans = {stack.stack_name: plan_consumers(stack) for stack in chosen}
    polled = {name for name, found in plans.items() if found}
    if not polled:
        listed = ", ".join(stack.stack_name for stack in chosen)
        raise LocalCloudError(
            f"no stack of the CDK app has an SQS event source mapping ({listed}): nothing to run"
        )
    needed = _with_dependencies(assembly, [s for s in chosen if s.stack_name in polled])
    for stack in chosen:
        if stack.stack_name not in polled and stack.artifact_id not in needed:
            warn(f"warning: stack {stack.stack_name} has no SQS event source mapping: skipped")
    deploy = [stack for stack in assembly.stacks if stack.artifact_id in needed]
    return deploy, {name: plans[name] for name in polled}


def _with_dependencies(assembly: CloudAssembly, stacks: Iterable[StackArtifact]) -> set[str]:
    by_id = {stack.artifact_id: stack for stack in assembly.stacks}
    needed: set[str] = set()
    todo = [stack.artifact_id for stack in stacks]
    while todo:
        artifact_id = todo.pop()
        if artifact_id in needed or artifact_id not in by_id:
            continue
        needed.add(artifact_id)
        todo += by_id[artifact_id].dependencies
    return needed


def start_local_cloud(
    assembly: CloudAssembly,
    port: int = DEFAULT_PORT,
    *,
    stacks: Sequence[str] | None = None,
    region: str = DEFAULT_REGION,
    on_batch: Callable[[str], None] = lambda line: None,
    warn: Callable[[str], None] = lambda line: None,
    poll: bool = True,
    log_dir: Path | None = None,
) -> LocalCloud:
    """Start the server, deploy the stacks, start the pollers; ``stop()`` undoes it all.

    ``on_batch`` gets one line per invocation, prefixed with the function's name; the
    functions' own output goes to their log files in ``log_dir`` (default
    ``function_logs.log_dir()``: ``$EXACTLY_ONCE_LOCAL_LOG_DIR`` or ``.local-cloud/logs``).

    ``stacks``: the names of the stacks to run (default: every stack of the assembly; a
    stack without an SQS event source mapping is skipped with a ``warn`` line). With
    ``poll=False`` the pollers are built but not started: a caller (a test harness) runs
    its own.

    Sets the endpoint's variables (``AWS_ENDPOINT_URL``, region, fake credentials) in
    ``os.environ`` until ``stop()``, and each function's own for the threads that run it:
    the handler module reads them, and its boto3 clients talk to the local server. Raises
    ``LocalCloudError``, ``DeployError`` or ``HandlerImportError`` (one line each) with
    nothing left running.
    """
    deploy, plans = select_stacks(assembly, stacks, warn)
    check_port_free(port)
    resources = ExitStack()
    try:
        endpoint = resources.enter_context(moto_server(port, region=region, serialized=True))
        resources.enter_context(patched_environ(endpoint.environ()))
        install_function_environ()
        clients = LocalClients(endpoint.url, region)
        deployed: dict[str, DeployedStack] = {}
        consumers: list[Consumer] = []
        for stack in deploy:
            outputs = _endpoint_urls(deploy_stack(stack, clients), endpoint)
            deployed[stack.stack_name] = DeployedStack(stack.stack_name, outputs)
            consumers += _consumers_of(
                stack, plans.get(stack.stack_name, []), clients, on_batch, log_dir
            )
        _check_handlers_import(consumers)
    except BaseException:
        resources.close()
        _forget_moto_state()
        raise
    polled = {name: deployed[name] for name in deployed if name in plans}
    cloud = LocalCloud(endpoint=endpoint, stacks=polled, consumers=consumers, _resources=resources)
    if poll:
        cloud.start_polling()
    return cloud


def check_port_free(port: int) -> None:
    """A clear error for a port in use (werkzeug would end its thread and hang the start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("localhost", port))
        except OSError as exc:
            raise LocalCloudError(
                f"port {port} is in use ({exc.strerror}): stop what listens there, or pass "
                "another --port"
            ) from exc


def _forget_moto_state() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def _consumers_of(
    stack: StackArtifact,
    plans: list[ConsumerPlan],
    clients: LocalClients,
    on_batch: Callable[[str], None],
    log_dir: Path | None = None,
) -> list[Consumer]:
    """The deployed stack's functions and SQS mappings, as moto's Lambda API reads them."""
    names = function_names(stack, clients, stack.stack_name)
    lambda_client = clients.client("lambda")
    sqs = clients.client("sqs")
    consumers: list[Consumer] = []
    for function_id in dict.fromkeys(plan.function_id for plan in plans):
        code_dir = next(p.code_dir for p in plans if p.function_id == function_id)
        function = FunctionSettings.from_api(
            lambda_client.get_function_configuration(FunctionName=names[function_id]), code_dir
        )
        log = function_log(function.name, log_dir)
        for found in event_source_mappings(clients, function.name):
            mapping = MappingSettings.from_api(found)
            if mapping.is_sqs:
                poller = _poller_for(mapping, function, sqs, on_batch, log)
                consumers.append(Consumer(stack.stack_name, function, mapping, poller, log))
    return consumers


def _check_handlers_import(consumers: list[Consumer]) -> None:
    """Import each function's handler once now, so that a broken one stops the start."""
    checked: set[str] = set()
    for consumer in consumers:
        if consumer.function.name not in checked:
            checked.add(consumer.function.name)
            LocalContainer(
                consumer.function, consumer.mapping.report_batch_item_failures, consumer.log
            )


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
    on_batch: Callable[[str], None],
    function_log: FunctionLog,
) -> Poller:
    queue_name = mapping.queue_arn.rsplit(":", 1)[-1]
    queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]

    def factory(worker: int) -> LocalContainer:
        return LocalContainer(function, mapping.report_batch_item_failures, function_log)

    def log(line: str) -> None:
        on_batch(f"{function.name}: {line}")

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
        function_name=function.name,
    )


def quiet_moto() -> None:
    """moto's notes on template resources it skips (alarms, queue policies) are not news."""
    warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
    logging.getLogger("moto.cloudformation.parsing").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.ERROR)  # CloudFormation parsing logs as "moto"
