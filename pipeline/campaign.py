"""Reliability campaigns: seeded workloads under every fault, on the local cloud, judged
by an oracle built from the sent log alone.

For each mode (atomic, leased) a campaign deploys the ledger stack on a fresh local cloud,
sends the workload in waves to ``consumers`` concurrent invocations, and injects faults
around them: crashes before the effect, between the effect and the record (leased), after
the record before the ack; lost acks; stalls that outlive a lease (zombies); throttling;
transaction conflicts. Then everything in the DLQ is redriven to the source queue (as an
operator would) and settled with faults off, and the ledger is judged: zero lost, zero
applied twice, every dead letter with a reason. In leased mode a double execution is
possible by design when the effect ignores the idempotency key (the ledger's plain
``UpdateItem``): each must be explained by a lease takeover in the record, and is
reported with its cause.

A retention check runs the memory trade-off on purpose: records expire while late
duplicates are still on their way, then the same with a safe retention, and the CDK
construct is asked to accept the unsafe configuration (it refuses).

Time is compressed locally: the queue's visibility timeout and the lease are seconds,
not minutes (the deployed values are checked by the construct, not exercised here).
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from exactly_once_local import moto_patches
from pipeline.demo import Progress, faulty_local_poller, send_wave, workload_for
from pipeline.faults import OBSERVED, FaultCounts, FaultRates
from pipeline.ledger_report import campaign_page, mode_facts, stage_for
from pipeline.report_html import Stage, html_path_beside, write_html
from pipeline.resources import scan_items
from pipeline.timeline import Recorder
from pipeline.verdict import Verdict, judge, ledger_balances
from pipeline.workload import Workload

MODES = ("atomic", "leased")


@dataclass(frozen=True)
class CampaignSettings:
    transactions: int = 400
    accounts: int = 40
    consumers: int = 8
    duplicate_rate: float = 0.25
    invalid_rate: float = 0.02
    conflict_rate: float = 0.01
    wave_size: int = 200
    modes: tuple[str, ...] = MODES
    seed: int = 11
    visibility_timeout: int = 2
    lease_seconds: float = 1.0
    # Rates are per DynamoDB write: atomic mode makes about one per batch, leased mode
    # about three per message, so leased rates are lower for a comparable number of faults.
    faults: FaultRates = field(
        default_factory=lambda: FaultRates(
            crash_before_effect=0.03,
            crash_after_effect=0.05,
            lost_response=0.03,
            throttle=0.03,
            transaction_conflict=0.05,
            stall=0.02,
            stall_seconds=3.5,  # past the lease (1 s) and the visibility timeout (2 s)
        )
    )
    leased_faults: FaultRates = field(
        default_factory=lambda: FaultRates(
            crash_before_effect=0.003,
            crash_after_effect=0.005,
            lost_response=0.03,
            throttle=0.003,
            stall=0.002,
            stall_seconds=3.5,
        )
    )

    @classmethod
    def long(cls) -> CampaignSettings:
        """The documented long campaign: 20,000 transactions, 8 consumers, 25% resent."""
        return cls(transactions=20_000, accounts=400, wave_size=250)


@dataclass
class ModeResult:
    mode: str
    sent: int
    delivered: int
    redelivered: int
    invocations: int
    outcomes: dict[str, int]
    faults: dict[str, int]
    redriven: int
    takeovers: int
    verdict: Verdict
    wall_seconds: float
    # The recorded timeline, balances and faults, for the HTML report (not in the JSON).
    stage: Stage | None = field(default=None, repr=False)

    @property
    def repeat_ceiling(self) -> int:
        """Doubles the observed boundaries can explain (leased mode only).

        Each application of the effect is followed by its owner's completion, which
        either succeeds (at most once per key), is refused to a displaced owner (a stall,
        or an invocation slowed past its lease), or never happens (a crash, throttle,
        error or lost answer between effect and record). So the doubles are at most the
        last two, counted by the fault hooks from the DynamoDB calls themselves, not from
        the consumer's word.
        """
        if self.mode != "leased":
            return 0
        return self.faults.get("effects_unrecorded", 0) + self.faults.get("completions_fenced", 0)

    @property
    def passed(self) -> bool:
        # The records' attempt counts explain each double; the fault log caps how many.
        return self.verdict.passed and self.verdict.repeats <= self.repeat_ceiling


@dataclass
class RetentionResult:
    retention_seconds: int
    late_duplicate_after_seconds: int
    late_duplicates: int
    applied_twice_with_short_retention: int
    applied_twice_with_safe_retention: int
    construct_refusal: str

    @property
    def passed(self) -> bool:
        # The trade-off shows (short retention breaks), safe retention holds, CDK refuses.
        return (
            self.applied_twice_with_short_retention == self.late_duplicates
            and self.applied_twice_with_safe_retention == 0
            and "idempotency_retention" in self.construct_refusal
        )


@dataclass
class CampaignReport:
    settings: dict[str, Any]
    modes: list[ModeResult]
    retention: RetentionResult
    wall_seconds: float

    @property
    def passed(self) -> bool:
        return all(m.passed for m in self.modes) and self.retention.passed

    def to_json(self) -> str:
        body = asdict(self)
        for mode, result in zip(body["modes"], self.modes, strict=True):
            mode.pop("stage", None)
            mode["passed"] = result.passed
            mode["verdict"]["passed"] = result.verdict.passed
        body["retention"]["passed"] = self.retention.passed
        body["passed"] = self.passed
        return json.dumps(body, indent=2, sort_keys=True)


def run_campaign(settings: CampaignSettings, *, out: TextIO = sys.stderr) -> CampaignReport:
    started = time.monotonic()
    workload = workload_for(settings)
    modes = [run_mode(settings, workload, mode, out=out) for mode in settings.modes]
    print("retention check: records expiring under late duplicates...", file=out, flush=True)
    retention = check_retention(seed=settings.seed)
    return CampaignReport(
        settings=asdict(settings),
        modes=modes,
        retention=retention,
        wall_seconds=round(time.monotonic() - started, 1),
    )


def run_mode(
    settings: CampaignSettings, workload: Workload, mode: str, *, out: TextIO
) -> ModeResult:
    """One mode on a fresh local cloud: waves under faults, redrive, settle, judge."""
    from exactly_once.keys import KeySpec
    from exactly_once_local.moto_deploy import LocalClients
    from exactly_once_local.moto_server import free_port, patched_environ
    from pipeline.local_cloud import quiet_moto, start_local_cloud

    moto_patches.install()
    quiet_moto()
    started = time.monotonic()
    print(f"[{mode}] starting the local cloud...", file=out, flush=True)
    cloud = start_local_cloud(free_port(), "dev", poll=False)
    try:
        overrides = {
            "EXACTLY_ONCE_MODE": mode,
            "LEASE_MAX_SECONDS": str(settings.lease_seconds),
            "POWERTOOLS_LOG_LEVEL": "CRITICAL",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        with patched_environ(overrides):
            clients = LocalClients(cloud.endpoint_url, cloud.endpoint.region)
            sqs, dynamodb = clients.client("sqs"), clients.client("dynamodb")
            outputs = cloud.outputs
            rates = settings.faults if mode == "atomic" else settings.leased_faults
            active = [rates]
            counts = FaultCounts()
            poller = faulty_local_poller(
                cloud,
                sqs,
                rates=lambda: active[0],
                counts=counts,
                concurrency=settings.consumers,
                visibility_timeout=settings.visibility_timeout,
                seed=settings.seed,
                environment=overrides,
            )
            progress = Progress(out, total=len(workload.sends))
            poller.on_batch = lambda _l: progress.show(
                poller.stats.deleted, poller.stats.invocations
            )
            recorder = Recorder()
            recorder.attach(poller)
            with recorder.sampling_dlq(sqs, outputs["DeadLetterQueueUrl"]):
                for wave in workload.waves:
                    send_wave(sqs, outputs["QueueUrl"], wave)
                    progress.sent(len(wave))
                    poller.drain(deadline_seconds=600)
                progress.done()
                # An operator's redrive: everything in the DLQ back to the source, settled
                # with faults off. Invalid and conflicting messages go back to the DLQ
                # with reasons.
                active[0] = FaultRates()
                poller.faults = FaultRates()
                recorder.mark("redrive")
                redriven = redrive(sqs, outputs["DeadLetterQueueUrl"], outputs["QueueUrl"])
                print(f"[{mode}] redrove {redriven} dead letters; settling", file=out, flush=True)
                poller.drain(deadline_seconds=600)
            key = KeySpec(
                prefix=cloud.function.environment["IDEMPOTENCY_KEY_PREFIX"],
                path=cloud.function.environment["IDEMPOTENCY_KEY_PATH"],
            )
            takeovers = lease_takeovers(dynamodb, outputs["IdempotencyTableName"], workload, key)
            verdict = judge(
                workload,
                dynamodb,
                outputs["LedgerTableName"],
                sqs,
                outputs["DeadLetterQueueUrl"],
                may_repeat=takeovers if mode == "leased" else None,
            )
            found = ledger_balances(dynamodb, outputs["LedgerTableName"])
    finally:
        cloud.stop()
    result = ModeResult(
        mode=mode,
        sent=len(workload.sends),
        delivered=poller.stats.delivered,
        redelivered=poller.stats.redelivered,
        invocations=poller.stats.invocations,
        outcomes=dict(poller.stats.outcomes),
        faults=counts.as_dict(),
        redriven=redriven,
        takeovers=len(takeovers),
        verdict=verdict,
        wall_seconds=round(time.monotonic() - started, 1),
    )
    result.stage = stage_for(
        f"{mode} mode",
        recorder,
        counts.events(),
        workload=workload,
        found=found,
        verdict=verdict,
        facts=mode_facts(result),
    )
    return result


def redrive(sqs: Any, dead_letter_url: str, source_url: str) -> int:
    """``pipeline dlq redrive``'s way on an endpoint without StartMessageMoveTask."""
    from pipeline.ops.dlq import redrive_by_hand

    result = redrive_by_hand(
        sqs,
        dead_letter_url,
        source_url,
        started_ms=int(time.time() * 1000),
        limit=1_000_000,
        wait_seconds=0,
    )
    if result.not_sent or result.not_deleted:
        raise RuntimeError(f"redrive incomplete: {result}")
    return result.moved


def lease_takeovers(
    dynamodb: Any, table: str, workload: Workload, key: Any
) -> dict[str, tuple[int, str]]:
    """Transactions whose record shows takeovers of expired leases: how many, and why."""
    from exactly_once.records import IdempotencyRecord

    records = {item["id"]["S"]: item for item in scan_items(dynamodb, table)}
    found: dict[str, tuple[int, str]] = {}
    for sent in workload.sends:
        if sent.kind != "original" or not sent.transaction_id:
            continue
        item = records.get(key.record_id(sent.transaction_id))
        if item is None:
            continue
        record = IdempotencyRecord.from_item(item)
        # A lease its owner released (after a failed effect) raises ``attempt`` too, but
        # cannot repeat an effect: only takeovers of expired leases explain a double.
        if record.takeovers:
            previous = (record.previous_owner or "unknown")[:8]
            found[sent.transaction_id] = (
                record.takeovers,
                f"{record.attempt} leases taken, {record.releases} released by their owner, "
                f"{record.takeovers} taken over (the last displacing {previous}): an earlier "
                "lease expired mid-invocation (a stall, or a crash between effect and record)",
            )
    return found


def check_retention(*, seed: int) -> RetentionResult:
    """The memory trade-off, shown: late duplicates after the records' retention ran out.

    On in-process moto with a manual clock: a batch is processed, the clock moves past the
    retention, the same transactions arrive again (a redrive from the DLQ, days later).
    With a retention shorter than that delay they are applied again; with one longer,
    they are duplicates. Then the construct is asked to accept the short retention.
    """
    from aws_lambda_powertools import Logger, Metrics
    from moto import mock_aws

    from exactly_once import ManualClock, make_handler
    from exactly_once_local.events import lambda_record, sqs_event
    from exactly_once_local.lambda_context import LocalLambdaContext
    from ledger.bootstrap import ledger_effect
    from pipeline.resources import create_ledger_resources

    short, late = 3600, 2 * 24 * 3600
    safe = 19 * 24 * 3600  # 4 days source + 14 days DLQ + 1 day margin
    rng = random.Random(seed)
    bodies = [
        json.dumps(
            {
                "transaction_id": f"late-{seed}-{i}",
                "account_id": f"acct-{i % 3}",
                "amount": f"{rng.randint(1, 9999) / 100:.2f}",
                "currency": "EUR",
            }
        )
        for i in range(10)
    ]

    def applied_twice(retention: int) -> int:
        with mock_aws():
            resources = create_ledger_resources()
            clock = ManualClock(current=time.time())
            handler = make_handler(
                ledger_effect,
                environ=resources.environ(IDEMPOTENCY_RETENTION_SECONDS=str(retention)),
                dynamodb=resources.dynamodb,
                sqs=resources.sqs,
                logger=Logger(service="retention", level="CRITICAL"),
                metrics=Metrics(namespace="Campaign"),
                clock=clock,
            ).build()

            def deliver() -> None:
                records = [lambda_record(body=b, queue_arn=resources.queue_arn) for b in bodies]
                handler(sqs_event(*records), LocalLambdaContext(clock))

            deliver()
            clock.advance(late)
            deliver()
            counts = [
                int(item["transaction_count"]["N"])
                for item in scan_items(resources.dynamodb, resources.ledger_table)
            ]
            return sum(counts) - len(bodies)

    return RetentionResult(
        retention_seconds=short,
        late_duplicate_after_seconds=late,
        late_duplicates=len(bodies),
        applied_twice_with_short_retention=applied_twice(short),
        applied_twice_with_safe_retention=applied_twice(safe),
        construct_refusal=construct_refusal(short),
    )


def construct_refusal(retention_seconds: int) -> str:
    """What the CDK construct says to an idempotency retention of ``retention_seconds``."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from exactly_once_cdk import ExactlyOnceConsumer, GuaranteeViolation

    stack = cdk.Stack(cdk.App(), "RetentionProbe")
    try:
        ExactlyOnceConsumer(
            stack,
            "Consumer",
            code=lambda_.Code.from_inline("def handler(event, context): pass"),
            handler="index.handler",
            service_name="probe",
            key_prefix="probe-v1",
            key_path="transaction_id",
            idempotency_retention=cdk.Duration.seconds(retention_seconds),
        )
    except GuaranteeViolation as refusal:
        return str(refusal)
    return "accepted (the construct did not refuse it)"


def render(report: CampaignReport) -> str:
    lines = [f"Reliability campaign ({report.wall_seconds:.0f} s)"]
    for m in report.modes:
        v = m.verdict
        faults = ", ".join(
            f"{k.replace('_', ' ')} {n}" for k, n in m.faults.items() if n and k not in OBSERVED
        )
        outcomes = ", ".join(f"{k} {n}" for k, n in sorted(m.outcomes.items()))
        lines += [
            f"[{m.mode}] {'PASS' if m.passed else 'FAIL'} in {m.wall_seconds:.0f} s",
            f"  sent {m.sent} ({v.unique_sent} unique), delivered {m.delivered} in "
            f"{m.invocations} invocations, redelivered {m.redelivered}",
            f"  outcomes: {outcomes}",
            f"  faults: {faults}",
            f"  redriven from the DLQ: {m.redriven}; lease takeovers: {m.takeovers}",
            f"  applied {v.applied} of {v.unique_sent} unique; lost {len(v.lost)}, "
            f"applied twice (unexplained) {len(v.applied_twice)}, wrong balances "
            f"{len(v.wrong_balances)}",
            f"  dead letters: {v.dead_lettered}, "
            + ", ".join(f"{r} {n}" for r, n in sorted(v.dead_letter_reasons.items())),
        ]
        if v.explained_repeats:
            lines.append(
                f"  double executions explained by lease takeovers: {v.repeats} (at most "
                f"{m.repeat_ceiling} possible: effects left unrecorded "
                f"{m.faults.get('effects_unrecorded', 0)} + completions fenced "
                f"{m.faults.get('completions_fenced', 0)})"
            )
            lines += [f"    {line}" for line in v.explained_repeats[:5]]
        for title, problems in (("lost", v.lost), ("applied twice", v.applied_twice)):
            lines += [f"  {title}: {p}" for p in problems[:10]]
        lines += [f"  wrong balance: {p}" for p in v.wrong_balances[:10]]
    r = report.retention
    lines += [
        f"[retention] {'PASS' if r.passed else 'FAIL'}: {r.late_duplicates} late duplicates "
        f"{r.late_duplicate_after_seconds // 3600} h after processing",
        f"  retention {r.retention_seconds // 3600} h: {r.applied_twice_with_short_retention} "
        "applied twice (the memory trade-off, on purpose)",
        f"  retention 19 days (source 4 + DLQ 14 + margin 1): "
        f"{r.applied_twice_with_safe_retention} applied twice",
        f"  the construct refuses it: {r.construct_refusal.splitlines()[-1].strip('- ')[:300]}",
        f"VERDICT: {'PASS' if report.passed else 'FAIL'}",
    ]
    return "\n".join(lines)


def main_campaign(args: Any) -> int:
    settings = CampaignSettings.long() if args.long else CampaignSettings()
    if args.transactions:
        settings = replace(settings, transactions=args.transactions)
    if args.mode:
        settings = replace(settings, modes=(args.mode,))
    report = run_campaign(settings)
    print(render(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(report.to_json())
        print(f"report written to {args.json}")
    page = html_path_beside(args.json, "reports/campaign.json")
    write_html(campaign_page(report), page)
    print(f"HTML report: {page}")
    return 0 if report.passed else 1
