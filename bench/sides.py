"""Each side of the comparison wired to its own tables on in-process moto.

The ledger sides (``build_side``) for most rows; the orders sides (``build_orders_side``)
for the refusal row, each with its own source queue and DLQ.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics

from bench.baseline import BaselineHandler
from bench.baseline_orders import KEY_PREFIX as ORDERS_BASELINE_KEY_PREFIX
from bench.baseline_orders import OrdersBaselineHandler
from bench.deployment import IDEMPOTENCY_RETENTION_SECONDS, LAMBDA_MEMORY_MB, MAX_RECEIVE_COUNT
from bench.meter import CallCounter, DynamoDBMeter
from exactly_once import make_handler
from exactly_once_local.events import lambda_record, sqs_event
from exactly_once_local.moto_resources import ConsumerResources
from ledger.bootstrap import ledger_effect
from orders.effect import INVENTORY_TABLE_ENV, ORDERS_TABLE_ENV, OrdersEffect
from pipeline.resources import REGION, LedgerResources, create_ledger_resources

OURS_ATOMIC = "ours (atomic)"
OURS_LEASED = "ours (leased)"
BASELINE = "powertools"
SIDES = (OURS_ATOMIC, OURS_LEASED, BASELINE)
# The refusal row: the orders effect has only atomic writes (no leased form).
REFUSAL_SIDES = (OURS_ATOMIC, BASELINE)
ORDERS_KEY_PREFIX = "orders-v1"


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


@dataclass
class OrdersSide:
    """The refusal row's side: an orders handler, its counted clients, its queues and tables.

    ``resources.dynamodb`` and ``resources.sqs`` are uninstrumented (set-up, delivery and
    checks); the handler gets its own DynamoDB client (metered) and SQS client (counted).
    """

    name: str
    handler: Any
    meter: DynamoDBMeter
    sqs_calls: CallCounter
    resources: ConsumerResources
    records_table: str
    metrics: Metrics | None = None

    def set_phase(self, phase: str) -> None:
        self.meter.phase = phase
        self.sqs_calls.phase = phase

    def invoke(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        response: dict[str, Any] = self.handler(sqs_event(*records), BenchLambdaContext())
        if self.metrics is not None:
            self.metrics.clear_metrics()  # as Side.invoke: nothing is published
        return response


def build_orders_side(name: str, meter: DynamoDBMeter, sqs_calls: CallCounter) -> OrdersSide:
    """A fresh orders side (call inside ``moto.mock_aws``): a source queue whose redrive
    policy has the construct's ``maxReceiveCount``, its DLQ, and inventory and orders tables.
    """
    if name not in REFUSAL_SIDES:
        raise ValueError(f"no orders side {name!r}: one of {REFUSAL_SIDES}")
    # The queue pair and idempotency table (``id``, TTL on ``expiration``, as the construct
    # defines it) the way the ledger sides get them: ``create_consumer_resources`` would
    # synthesize the CDK construct for the table's schema, seconds per run. The ledger
    # table made with them goes unused.
    made = create_ledger_resources(max_receive_count=MAX_RECEIVE_COUNT)
    resources = ConsumerResources(
        dynamodb=made.dynamodb,
        sqs=made.sqs,
        key_prefix=ORDERS_BASELINE_KEY_PREFIX if name == BASELINE else ORDERS_KEY_PREFIX,
        key_path="order_id",
        mode="atomic",
        idempotency_table=made.idempotency_table,
        queue_url=made.queue_url,
        queue_arn=made.queue_arn,
        dead_letter_queue_url=made.dlq_url,
    )
    resources.table("inventory", "sku", env=INVENTORY_TABLE_ENV)
    resources.table("orders", "order_id", env=ORDERS_TABLE_ENV)
    dynamodb = meter.attach(boto3.client("dynamodb", region_name=REGION))
    sqs = sqs_calls.attach(boto3.client("sqs", region_name=REGION))
    retention = {"IDEMPOTENCY_RETENTION_SECONDS": str(IDEMPOTENCY_RETENTION_SECONDS)}
    if name == BASELINE:
        # The queues and effect tables are the same as ours; the recipe keeps its records
        # in Powertools' own table (the consumer resources' idempotency table goes unused).
        table = _create_powertools_table()
        environ = resources.environ(IDEMPOTENCY_TABLE_NAME=table, **retention)
        handler: Any = OrdersBaselineHandler(environ, dynamodb=dynamodb)
        return OrdersSide(name, handler, meter, sqs_calls, resources, table)
    metrics = Metrics(namespace="Bench")
    handler = make_handler(
        OrdersEffect.from_setup,
        environ=resources.environ(**retention),
        dynamodb=dynamodb,
        sqs=sqs,
        logger=_quiet_logger(),
        metrics=metrics,
    ).build()
    return OrdersSide(
        name, handler, meter, sqs_calls, resources, resources.idempotency_table, metrics
    )
