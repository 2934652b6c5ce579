"""Each side of the comparison wired to its own tables on in-process moto."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics

from bench.baseline import BaselineHandler
from bench.deployment import IDEMPOTENCY_RETENTION_SECONDS, LAMBDA_MEMORY_MB
from bench.meter import DynamoDBMeter
from exactly_once import make_handler
from exactly_once_local.events import lambda_record, sqs_event
from ledger.bootstrap import ledger_effect
from pipeline.resources import REGION, LedgerResources, create_ledger_resources

OURS_ATOMIC = "ours (atomic)"
OURS_LEASED = "ours (leased)"
BASELINE = "powertools"
SIDES = (OURS_ATOMIC, OURS_LEASED, BASELINE)


@dataclass(frozen=True)
class BenchLambdaContext:
    """What both handlers read from Lambda's context: a deadline, a name, a request id."""

    started_at: float = field(default_factory=time.monotonic)
    timeout_seconds: float = 60.0
    function_name: str = "ledger-bench"
    memory_limit_in_mb: int = LAMBDA_MEMORY_MB
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:ledger-bench"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self.started_at
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass
class Side:
    """One handler, its instrumented DynamoDB client and the tables it writes."""

    name: str
    handler: Any
    meter: DynamoDBMeter
    resources: LedgerResources
    idempotency_table: str
    retention_seconds: int
    metrics: Metrics | None = None

    def invoke(self, bodies: list[str]) -> dict[str, Any]:
        records = [lambda_record(body=body, queue_arn=self.resources.queue_arn) for body in bodies]
        response: dict[str, Any] = self.handler(sqs_event(*records), BenchLambdaContext())
        if self.metrics is not None:
            # Lambda flushes once per invocation (log_metrics); here nothing is published.
            self.metrics.clear_metrics()
        return response


def _quiet_logger() -> Logger:
    return Logger(service="bench", level="WARNING")


def _create_powertools_table() -> str:
    """Powertools' idempotency table: partition key ``id``, TTL on ``expiration``."""
    client = boto3.client("dynamodb", region_name=REGION)
    name = f"powertools-idempotency-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    return name


def build_side(name: str, meter: DynamoDBMeter) -> Side:
    """A fresh side with its own tables (call inside ``moto.mock_aws``)."""
    resources = create_ledger_resources()
    dynamodb = meter.attach(boto3.client("dynamodb", region_name=REGION))
    # Both sides keep records for the deployed retention (bench/deployment.py).
    retention = {"IDEMPOTENCY_RETENTION_SECONDS": str(IDEMPOTENCY_RETENTION_SECONDS)}
    if name == BASELINE:
        table = _create_powertools_table()
        environ = resources.environ(IDEMPOTENCY_TABLE_NAME=table, **retention)
        handler: Any = BaselineHandler(environ, dynamodb=dynamodb)
        return Side(name, handler, meter, resources, table, IDEMPOTENCY_RETENTION_SECONDS)
    mode = "atomic" if name == OURS_ATOMIC else "leased"
    metrics = Metrics(namespace="Bench")
    handler = make_handler(
        ledger_effect,
        environ=resources.environ(EXACTLY_ONCE_MODE=mode, **retention),
        dynamodb=dynamodb,
        sqs=resources.sqs,
        logger=_quiet_logger(),
        metrics=metrics,
    ).build()
    return Side(
        name,
        handler,
        meter,
        resources,
        resources.idempotency_table,
        IDEMPOTENCY_RETENTION_SECONDS,
        metrics,
    )
