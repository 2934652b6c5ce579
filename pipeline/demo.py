"""The demo: a seeded ledger workload with faults, run end to end, judged from the ledger."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import boto3
from aws_lambda_powertools import Logger, Metrics

from exactly_once import Decision, ExactlyOnceBatchHandler
from exactly_once_local import moto_patches
from exactly_once_local.powertools_metrics import flush_like_lambda
from pipeline.faults import OBSERVED, FaultCounts, FaultRates, inject_client_faults
from pipeline.ledger_report import Balances, demo_facts, demo_page, stage_for
from pipeline.poller import BatchHandler, FaultyPoller
from pipeline.progress import ProgressBar
from pipeline.report_html import Stage, html_path_beside, write_html
from pipeline.resources import LedgerResources, create_ledger_resources
from pipeline.serialized import SerializedClient
from pipeline.timeline import Recorder
from pipeline.verdict import Verdict, judge, ledger_balances
from pipeline.workload import Workload, generate

R = TypeVar("R")

# Builds one worker's handler from the resources and the (serialized, faulty) DynamoDB client.
ConsumerFactory = Callable[[LedgerResources, Any], BatchHandler]


@dataclass(frozen=True)
class DemoSettings:
    transactions: int = 1000
    accounts: int = 50
    duplicate_rate: float = 0.2
    invalid_rate: float = 0.02
    conflict_rate: float = 0.01
    wave_size: int = 200
    batch_size: int = 10
    concurrency: int = 2
    visibility_timeout: int = 1
    seed: int = 7
    faults: FaultRates = field(default_factory=FaultRates.demo)


@dataclass
class DemoReport:
    where: str
    settings: dict[str, Any]
    sent: int
    delivered: int
    redelivered: int
    invocations: int
    outcomes: dict[str, int]
    faults: dict[str, int]
    verdict: Verdict
    wall_seconds: float
    # The recorded timeline, balances and faults, for the HTML report (not in the JSON).
    stage: Stage | None = field(default=None, repr=False)

    def to_json(self) -> str:
        body = asdict(self)
        body.pop("stage", None)
        body["verdict"] = dict(asdict(self.verdict), passed=self.verdict.passed)
        return json.dumps(body, indent=2, sort_keys=True, default=str)


class InProcessFunction:
    """The ledger consumer as Lambda runs it, in this process: the batch handler, then the
    metrics flush that the handler module's ``@metrics.log_metrics`` does."""

    def __init__(self, handler: ExactlyOnceBatchHandler, metrics: Metrics) -> None:
        self._handler = handler
        self._metrics = metrics

    @property
    def last_decisions(self) -> dict[str, Decision]:
        return self._handler.last_decisions

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return self._handler(event, context)
        finally:
            flush_like_lambda(self._metrics)


def ledger_consumer(resources: LedgerResources, dynamodb: Any) -> InProcessFunction:
    """The real ledger consumer, wired as its Lambda composition root wires it."""
    from exactly_once import make_handler
    from ledger.bootstrap import ledger_effect

    metrics = Metrics(namespace="ExactlyOnceDemo")
    handler = make_handler(
        ledger_effect,
        environ=resources.environ(),
        dynamodb=dynamodb,
        sqs=resources.sqs,
        logger=Logger(service="ledger", level="ERROR"),
        metrics=metrics,
    ).build()
    return InProcessFunction(handler, metrics)


def workload_for(settings: Any) -> Workload:
    """The seeded workload a demo's or a campaign's settings describe."""
    return generate(
        transactions=settings.transactions,
        accounts=settings.accounts,
        duplicate_rate=settings.duplicate_rate,
        invalid_rate=settings.invalid_rate,
        conflict_rate=settings.conflict_rate,
        wave_size=settings.wave_size,
        seed=settings.seed,
    )


def _run_waves(
    settings: DemoSettings,
    workload: Workload,
    poller: FaultyPoller,
    counts: FaultCounts,
    judged: Callable[[], Verdict],
    *,
    where: str,
    started: float,
    out: TextIO,
    dlq_url: str,
    found: Callable[[], Balances],
) -> DemoReport:
    """Send each wave, poll until it is settled, then judge the ledger; the timeline,
    faults and DLQ depth are recorded on the way for the HTML report."""
    progress = Progress(out, total=len(workload.sends))
    recorder = Recorder()
    recorder.attach(poller)
    poller.on_batch = lambda _line: progress.show(poller.stats.deleted, poller.stats.invocations)
    with recorder.sampling_dlq(poller.sqs, dlq_url):
        for wave in workload.waves:
            send_wave(poller.sqs, poller.queue_url, wave)
            progress.sent(len(wave))
            poller.drain()
    progress.done()
    report = DemoReport(
        where=where,
        settings={k: v for k, v in asdict(settings).items() if k != "faults"}
        | {"faults": asdict(settings.faults)},
        sent=len(workload.sends),
        delivered=poller.stats.delivered,
        redelivered=poller.stats.redelivered,
        invocations=poller.stats.invocations,
        outcomes=dict(poller.stats.outcomes),
        faults=counts.as_dict(),
        verdict=judged(),
        wall_seconds=round(time.monotonic() - started, 2),
    )
    report.stage = stage_for(
        "ledger consumer",
        recorder,
        counts.events(),
        workload=workload,
        found=found(),
        verdict=report.verdict,
        facts=demo_facts(report),
    )
    return report


def _environment_defaults(**defaults: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Run the function with these variables set unless the caller set them, and restore
    the environment after (a test process goes on with its own)."""

    def wrap(function: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> R:
            from exactly_once_local.moto_server import patched_environ

            values = {name: os.environ.get(name, value) for name, value in defaults.items()}
            with patched_environ(values):
                return function(*args, **kwargs)

        return run

    return wrap


@_environment_defaults(POWERTOOLS_METRICS_DISABLED="true")
def run_demo(
    settings: DemoSettings,
    *,
    consumer: ConsumerFactory = ledger_consumer,
    out: TextIO = sys.stderr,
) -> DemoReport:
    """Run the workload against the ledger on in-process moto and judge the result."""
    moto_patches.install()
    started = time.monotonic()
    workload = workload_for(settings)
    resources = create_ledger_resources(visibility_timeout=settings.visibility_timeout)
    lock = threading.Lock()
    counts = FaultCounts()
    containers: dict[int, BatchHandler] = {}

    def handler_for(worker: int) -> BatchHandler:
        """One warm container per worker, kept across waves (and so is its fault sequence)."""
        if worker not in containers:
            # A client of its own, as a container has: the fault hooks go on it alone.
            own = boto3.client("dynamodb", region_name=resources.dynamodb.meta.region_name)
            rng = random.Random(settings.seed * 7919 + worker)
            inject_client_faults(
                own, settings.faults, counts, rng, idempotency_table=resources.idempotency_table
            )
            containers[worker] = consumer(resources, SerializedClient(own, lock))
        return containers[worker]

    poller = FaultyPoller(
        sqs=SerializedClient(resources.sqs, lock),
        queue_url=resources.queue_url,
        queue_arn=resources.queue_arn,
        handler_factory=handler_for,
        batch_size=settings.batch_size,
        concurrency=settings.concurrency,
        faults=settings.faults,
        fault_counts=counts,
        seed=settings.seed,
    )
    return _run_waves(
        settings,
        workload,
        poller,
        counts,
        lambda: judge(
            workload, resources.dynamodb, resources.ledger_table, resources.sqs, resources.dlq_url
        ),
        where="in-process moto",
        started=started,
        out=out,
        dlq_url=resources.dlq_url,
        found=lambda: ledger_balances(resources.dynamodb, resources.ledger_table),
    )


@_environment_defaults(POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_LOG_LEVEL="ERROR")
def run_demo_on_local_cloud(
    settings: DemoSettings, *, stage: str = "dev", out: TextIO = sys.stderr
) -> DemoReport:
    """Run the workload on the local cloud: the deployed stack on a moto server.

    The same template as ``cdk synth``, the function's handler, environment and timeout
    and the mapping's batch size, read back from moto's APIs. Time is compressed as
    ``faulty_local_poller`` says: the visibility timeout and the batching window.
    """
    from exactly_once_local.moto_deploy import LocalClients
    from exactly_once_local.moto_server import free_port
    from pipeline.local_cloud import quiet_moto, start_local_cloud

    moto_patches.install()  # the server runs in this process: its backends are patched too
    quiet_moto()
    started = time.monotonic()
    workload = workload_for(settings)
    print("starting the local cloud (moto server, ledger stack)...", file=out, flush=True)
    cloud = start_local_cloud(free_port(), stage, poll=False)
    try:
        clients = LocalClients(cloud.endpoint_url, cloud.endpoint.region)
        sqs, dynamodb = clients.client("sqs"), clients.client("dynamodb")
        counts = FaultCounts()
        poller = faulty_local_poller(
            cloud,
            sqs,
            rates=lambda: settings.faults,
            counts=counts,
            concurrency=settings.concurrency,
            visibility_timeout=settings.visibility_timeout,
            seed=settings.seed,
        )
        return _run_waves(
            settings,
            workload,
            poller,
            counts,
            lambda: judge(
                workload,
                dynamodb,
                cloud.outputs["LedgerTableName"],
                sqs,
                cloud.outputs["DeadLetterQueueUrl"],
            ),
            where=f"the local cloud ({cloud.endpoint_url}, stack {stage})",
            started=started,
            out=out,
            dlq_url=cloud.outputs["DeadLetterQueueUrl"],
            found=lambda: ledger_balances(dynamodb, cloud.outputs["LedgerTableName"]),
        )
    finally:
        cloud.stop()


def faulty_local_poller(
    cloud: Any,
    sqs: Any,
    *,
    rates: Callable[[], FaultRates],
    counts: FaultCounts,
    concurrency: int,
    visibility_timeout: int,
    seed: int,
    environment: Mapping[str, str] | None = None,
) -> FaultyPoller:
    """A poller for the local cloud's mapping, each worker a container with fault hooks.

    Time is compressed: the queue's visibility timeout (180 s as deployed) becomes
    ``visibility_timeout`` so that redeliveries come in seconds, and the mapping's batching
    window (1 s) becomes none: a batch is what the receives return at once.
    ``environment``: variables to set on top of the function's own (its containers see
    them, as a redeploy with them would).
    """
    from exactly_once_local.runtime import LocalContainer

    function = dataclasses.replace(
        cloud.function, environment={**cloud.function.environment, **(environment or {})}
    )

    queue_url = cloud.outputs["QueueUrl"]
    sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"VisibilityTimeout": str(visibility_timeout)}
    )
    mapping = cloud.mappings[0]
    containers: dict[int, LocalContainer] = {}

    def container_for(worker: int) -> LocalContainer:
        """One warm container per worker, kept across waves (and so is its fault sequence)."""
        if worker not in containers:
            container = LocalContainer(function, mapping.report_batch_item_failures)
            inject_client_faults(
                container.dynamodb,
                rates,
                counts,
                random.Random(seed * 7919 + worker),
                idempotency_table=cloud.outputs["IdempotencyTableName"],
            )
            containers[worker] = container
        return containers[worker]

    return FaultyPoller(
        sqs=sqs,
        queue_url=queue_url,
        queue_arn=mapping.queue_arn,
        handler_factory=container_for,
        batch_size=mapping.batch_size,
        concurrency=concurrency,
        timeout_seconds=float(function.timeout_seconds),
        faults=rates(),
        fault_counts=counts,
        seed=seed,
    )


def send_wave(sqs: Any, queue_url: str, wave: list[Any]) -> None:
    for start in range(0, len(wave), 10):
        entries = [
            {"Id": str(i), "MessageBody": sent.body}
            for i, sent in enumerate(wave[start : start + 10])
        ]
        for attempt in range(8):
            failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
            refused = [f for f in failed if f.get("SenderFault")]
            if refused:
                raise RuntimeError(f"the queue refused a workload message: {refused[0]}")
            retry = {f["Id"] for f in failed}
            entries = [e for e in entries if e["Id"] in retry]
            if not entries:
                break
            time.sleep(0.05 * 2**attempt)
        else:
            raise RuntimeError(f"{len(entries)} workload messages could not be sent")


class Progress:
    """Settled messages of the workload as a ``ProgressBar`` (rate, ETA; plain lines
    every few seconds when ``out`` is not a terminal), with what is sent so far."""

    def __init__(self, out: TextIO, total: int) -> None:
        self._bar = ProgressBar(total, out, label="settled", every=5.0)
        self._sent = 0
        self._total = total

    def sent(self, count: int) -> None:
        self._sent += count
        self._bar.update(self._bar.done, note=f"sent {self._sent}/{self._total}")

    def show(self, deleted: int, invocations: int) -> None:
        note = f"sent {self._sent}/{self._total}, {invocations} invocations"
        self._bar.update(deleted, note=note)

    def done(self) -> None:
        self._bar.close()


_DEMO_FAULTS = ("crashes_before_effect", "crashes_after_effect", "lost_responses", "throttled")


def render(report: DemoReport) -> str:
    v = report.verdict
    outcome_line = ", ".join(f"{k} {n}" for k, n in sorted(report.outcomes.items()))
    injected = {
        k: n for k, n in report.faults.items() if (n or k in _DEMO_FAULTS) and k not in OBSERVED
    }
    fault_line = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in injected.items())
    lines = [
        f"Exactly-once demo: ledger consumer on {report.where}",
        f"  sent                 {report.sent} messages ({v.unique_sent} unique transactions)",
        f"  delivered            {report.delivered} in {report.invocations} invocations",
        f"  redelivered          {report.redelivered}",
        f"  outcomes             {outcome_line}",
        f"  faults injected      {fault_line}",
        f"  applied (ledger)     {v.applied} transactions",
        f"  dead-lettered        {v.dead_lettered}",
    ]
    lines += [f"    {reason:<40} {n}" for reason, n in sorted(v.dead_letter_reasons.items())]
    lines.append(f"  wall time            {report.wall_seconds:.1f} s")
    if v.passed:
        lines.append(
            f"VERDICT: PASS - every balance matches; {v.applied} of {v.unique_sent} unique "
            "transactions applied once"
            + (f", {v.unsettled} in the DLQ after failed deliveries" if v.unsettled else "")
            + ", none twice, none lost"
        )
    else:
        lines.append("VERDICT: FAIL")
        for title, problems in (
            ("applied twice", v.applied_twice),
            ("lost", v.lost),
            ("wrong balance", v.wrong_balances),
        ):
            lines += [f"  {title}: {p}" for p in problems[:10]]
    return "\n".join(lines)


def main_demo(args: Any) -> int:
    """``python -m pipeline demo``: the two stages (orders -> ledger) on the local cloud, or
    with ``--ledger-only`` (or ``--in-process``) the ledger alone; print the report, write
    its JSON and its HTML page, exit on the verdict."""
    from moto import mock_aws

    from pipeline.chain import ChainSettings, chain_page, render_chain, run_chain

    settings = DemoSettings(
        transactions=args.transactions,
        accounts=args.accounts,
        duplicate_rate=(
            DemoSettings.duplicate_rate if args.duplicate_rate is None else args.duplicate_rate
        ),
        concurrency=args.concurrency,
        seed=args.seed,
        faults=FaultRates() if args.no_faults else FaultRates.demo(),
    )
    if not (args.ledger_only or args.in_process):
        # The default: both stages, orders -> ledger, on the local cloud.
        chain_settings = dataclasses.replace(
            ChainSettings.demo(),
            orders=args.orders,
            seed=args.seed,
            consumers=args.concurrency,
        )
        if args.duplicate_rate is not None:
            chain_settings = dataclasses.replace(chain_settings, duplicate_rate=args.duplicate_rate)
        if args.no_faults:
            chain_settings = dataclasses.replace(
                chain_settings, orders_faults=FaultRates(), ledger_faults=FaultRates()
            )
        chained = run_chain(chain_settings)
        text, page, passed = render_chain(chained), chain_page(chained), chained.passed
        body = chained.to_json()
    else:
        if args.in_process:
            with mock_aws():
                report = run_demo(settings)
        else:
            report = run_demo_on_local_cloud(settings)
        text, passed, body = render(report), report.verdict.passed, report.to_json()
        page = demo_page(report, text.partition("VERDICT: ")[2])
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(body)
        print(f"report written to {args.json}")
    page_path = html_path_beside(args.json, "reports/demo.json")
    write_html(page, page_path)
    print(f"HTML report: {page_path}")
    return 0 if passed else 1
