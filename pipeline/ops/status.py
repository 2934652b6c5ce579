"""`pipeline status`: how a consumer's queue, DLQ and idempotency table stand right now."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.ops.dlq import oldest_age_seconds, peek, wait_seconds_for
from pipeline.ops.errors import ExitCode
from pipeline.ops.targets import Target

PEEK_LIMIT = 100  # DLQ messages read to find the oldest where CloudWatch has no figure


@dataclass
class Status:
    stack: str
    consumer: str  # its construct path within the stack
    where: str
    queue_visible: int
    queue_in_flight: int
    queue_delayed: int
    dlq_depth: int
    dlq_oldest_age_seconds: float | None
    dlq_oldest_age_source: str  # "cloudwatch", "peek" or "" when the DLQ is empty
    idempotency_records_approx: int
    alarms: dict[str, str] | None  # name -> state; None where the endpoint has no alarms
    # Per outcome, the sums of the EMF metrics in the function's local log (the local
    # cloud's; exactly_once_local.function_logs); None where there is no such log.
    outcomes_logged: dict[str, int] | None = None
    outcomes_log: str = ""


def _queue_attributes(sqs: Any, url: str) -> dict[str, int]:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {name: int(attributes.get(name, 0)) for name in names}


def _cloudwatch_oldest_age(target: Target, queue_name: str) -> float | None:
    """SQS's own ApproximateAgeOfOldestMessage (one-minute figures), latest in 15 min."""
    now = datetime.now(UTC)
    points = (
        target.client("cloudwatch")
        .get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": queue_name}],
            StartTime=now - timedelta(minutes=15),
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        )
        .get("Datapoints", [])
    )
    if not points:
        return None
    return float(max(points, key=lambda p: p["Timestamp"])["Maximum"])


def _alarms(target: Target) -> dict[str, str] | None:
    names = target.alarm_names()
    if not names:
        return None  # moto's CloudFormation creates no alarms
    found = target.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    states = {str(a["AlarmName"]): str(a["StateValue"]) for a in found}
    return {name: states.get(name, "MISSING") for name in names}


def _logged_outcomes(target: Target) -> tuple[dict[str, int] | None, str]:
    """The outcome metrics the function printed, summed from its local log file."""
    from exactly_once_local.function_logs import log_dir, log_file_name, metric_totals

    name = target.consumer.function_name
    if not target.is_local or not name:
        return None, ""
    path = log_dir() / log_file_name(name)
    if not path.is_file():
        return None, ""
    return dict(sorted(metric_totals(path).items())), str(path)


def collect(target: Target) -> Status:
    consumer = target.consumer
    sqs = target.client("sqs")
    queue = _queue_attributes(sqs, consumer.queue_url)
    dlq_url = consumer.dead_letter_queue_url
    dlq = _queue_attributes(sqs, dlq_url)
    dlq_depth = sum(dlq.values())
    age: float | None = None
    source = ""
    if dlq_depth:
        if not target.is_local:
            age = _cloudwatch_oldest_age(target, dlq_url.rstrip("/").rsplit("/", 1)[-1])
            source = "cloudwatch"
        if age is None:
            messages = peek(sqs, dlq_url, PEEK_LIMIT, wait_seconds=wait_seconds_for(target))
            age = oldest_age_seconds(messages, int(time.time() * 1000))
            source = "peek"
    table = target.client("dynamodb").describe_table(TableName=consumer.idempotency_table_name)[
        "Table"
    ]
    logged, log = _logged_outcomes(target)
    return Status(
        stack=target.stack_name,
        consumer=target.consumer_label,
        where=target.where,
        queue_visible=queue["ApproximateNumberOfMessages"],
        queue_in_flight=queue["ApproximateNumberOfMessagesNotVisible"],
        queue_delayed=queue["ApproximateNumberOfMessagesDelayed"],
        dlq_depth=dlq_depth,
        dlq_oldest_age_seconds=age,
        dlq_oldest_age_source=source,
        idempotency_records_approx=int(table.get("ItemCount", 0)),
        alarms=_alarms(target),
        outcomes_logged=logged,
        outcomes_log=log,
    )


def duration(seconds: float) -> str:
    """``3d 4h``, ``5m 12s``, ``40s``: the two largest units."""
    whole = int(seconds)
    parts = [
        (whole // 86400, "d"),
        (whole % 86400 // 3600, "h"),
        (whole % 3600 // 60, "m"),
        (whole % 60, "s"),
    ]
    shown = [f"{n}{unit}" for n, unit in parts if n]
    return " ".join(shown[:2]) or "0s"


def render(status: Status) -> str:
    if status.dlq_depth == 0:
        dlq_line = "0 messages"
    else:
        age = (
            "age unknown"
            if status.dlq_oldest_age_seconds is None
            else f"oldest {duration(status.dlq_oldest_age_seconds)} old"
        )
        how = " (from CloudWatch)" if status.dlq_oldest_age_source == "cloudwatch" else ""
        dlq_line = f"{status.dlq_depth} messages, {age}{how}"
    lines = [
        f"stack {status.stack} at {status.where}",
        f"  consumer      {status.consumer}",
        f"  queue         {status.queue_visible} waiting, {status.queue_in_flight} in flight, "
        f"{status.queue_delayed} delayed",
        f"  DLQ           {dlq_line}",
        f"  idempotency   about {status.idempotency_records_approx} records "
        "(DynamoDB's ItemCount; AWS refreshes it about every 6 hours)",
    ]
    if status.outcomes_logged is not None:
        counted = ", ".join(f"{k} {n}" for k, n in status.outcomes_logged.items() if n)
        lines.append(
            f"  outcomes      {counted or 'none yet'} (the function's metrics, summed from "
            f"{status.outcomes_log})"
        )
    if status.alarms is None:
        lines.append("  alarms        none at this endpoint (the local cloud creates no alarms)")
    else:
        for name, state in sorted(status.alarms.items()):
            lines.append(f"  alarm         {state:<17} {name}")
    return "\n".join(lines)


def run_status(args: argparse.Namespace) -> int:
    status = collect(Target.from_args(args))
    print(json.dumps(asdict(status), sort_keys=True) if args.json else render(status))
    return ExitCode.OK
