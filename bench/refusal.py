"""The refusal row: batches of 10 orders for distinct SKUs, exactly one out of stock.

Ours is the orders consumer (``orders.effect.OrdersEffect``) in atomic mode; the baseline is
the Powertools recipe doing the same per-order effect (``bench.baseline_orders``, which says
what it does with a refusal). Both run the same seeded batches (``bench.workload``) in the
same process, each on its own source queue, DLQ, inventory and orders tables on moto.

Delivery goes through the queues as Lambda's event source mapping would: the batch's 10
orders are sent, received together and handed to the handler; what succeeded is deleted,
and item failures are made visible again at once (standing in for the visibility timeout)
and received again, until the queue is empty. The source queue's redrive policy (the
construct's ``maxReceiveCount``; moto implements it) moves a message received that many
times to the DLQ. The first delivery of each batch is tallied as ``refusal``, any later
one (only the refused order comes back) as ``refusal_redelivery``.

Then the outcome is checked on each side, and the run fails loudly if any check fails:
the nine orders with stock are written and their stock taken once, the short SKU is left
as it was, no stock is negative, every refused order is in the DLQ exactly once (ours with
``exactly_once.outcome=refused``), nothing is left on the source queue, and the records
table holds a completed record per committed order and none for a refused one.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3

from bench.deployment import MAX_RECEIVE_COUNT
from bench.meter import CallCounter, DynamoDBMeter
from bench.run import ACCOUNTING_BATCH, QUICK_MIN_FULL_BATCHES, WARMUP_SEED_OFFSET, Settings
from bench.sides import BASELINE, OURS_ATOMIC, REFUSAL_SIDES, OrdersSide, build_orders_side
from bench.workload import REFUSAL_BATCH, OrderBatch, build_refusal_batches
from exactly_once_local.events import from_received
from pipeline.resources import REGION, scan_items

PHASE = "refusal"
REDELIVERY_PHASE = "refusal_redelivery"
WARMUP_PHASE = "warmup"
REFUSAL_SEED_OFFSET = 3
REFUSED_PER_BATCH = 1  # build_refusal_batches makes exactly one SKU per batch short
# A receive is kept in flight this long; far beyond one invocation on moto.
_VISIBILITY_TIMEOUT_SECONDS = 300


class RefusalCheckFailed(RuntimeError):
    """A side did not reach the outcome the row is about; its figures would mean nothing."""


@dataclass
class Delivery:
    """What delivering one batch until its queue was empty cost, and who came back."""

    first_requests: int = 0
    redelivery_requests: int = 0
    receives: Counter[str] = field(default_factory=Counter)  # order id -> times received
    first_failed: set[str] = field(default_factory=set)  # order ids failed the first time


def batch_count(settings: Settings) -> int:
    """As many batches as the accounting phase's messages fill, and at least two."""
    return max(QUICK_MIN_FULL_BATCHES, settings.messages // ACCOUNTING_BATCH)


def _order_id(message: dict[str, Any]) -> str:
    return str(json.loads(message["Body"])["order_id"])


def _stock(side: OrdersSide, batches: list[OrderBatch]) -> None:
    dynamodb, table = side.resources.dynamodb, side.resources.tables["inventory"]
    for batch in batches:
        for sku, level in batch.stock.items():
            dynamodb.put_item(TableName=table, Item={"sku": {"S": sku}, "stock": {"N": str(level)}})


def deliver(side: OrdersSide, batch: OrderBatch, *, phase: str, redelivery_phase: str) -> Delivery:
    """Send ``batch`` to the side's queue and deliver it until the queue is empty."""
    resources = side.resources
    sqs = resources.sqs
    sent = sqs.send_message_batch(
        QueueUrl=resources.queue_url,
        Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch.bodies)],
    )
    if sent.get("Failed"):
        raise RefusalCheckFailed(f"{side.name}: sending the batch failed: {sent['Failed']}")
    delivery = Delivery()
    for attempt in range(MAX_RECEIVE_COUNT + 2):
        messages = sqs.receive_message(
            QueueUrl=resources.queue_url,
            MaxNumberOfMessages=REFUSAL_BATCH,
            VisibilityTimeout=_VISIBILITY_TIMEOUT_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return delivery
        if attempt == 0 and len(messages) != len(batch.bodies):
            raise RefusalCheckFailed(
                f"{side.name}: the first receive held {len(messages)} of {len(batch.bodies)}"
            )
        side.set_phase(phase if attempt == 0 else redelivery_phase)
        before = side.meter.tally().requests
        response = side.invoke([from_received(m, resources.queue_arn) for m in messages])
        spent = side.meter.tally().requests - before
        failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
        for message in messages:
            delivery.receives[_order_id(message)] += 1
        if attempt == 0:
            delivery.first_requests = spent
            delivery.first_failed = {_order_id(m) for m in messages if m["MessageId"] in failed}
        else:
            delivery.redelivery_requests += spent
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=resources.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=resources.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
    raise RefusalCheckFailed(
        f"{side.name}: still delivering after {MAX_RECEIVE_COUNT + 2} receives "
        f"(maxReceiveCount {MAX_RECEIVE_COUNT}): the redrive policy did not act"
    )


def _check_delivery(side: OrdersSide, batch: OrderBatch, delivery: Delivery) -> None:
    """The nine were applied on their first delivery; the refused one ended as designed."""
    committed = batch.committed_order_ids()
    short = batch.short_order_id
    if delivery.first_failed - {short}:
        raise RefusalCheckFailed(
            f"{side.name}: orders with stock failed: {sorted(delivery.first_failed - {short})}"
        )
    if any(delivery.receives[order_id] != 1 for order_id in committed):
        raise RefusalCheckFailed(f"{side.name}: an order with stock came back: {delivery}")
    # Ours dead-letters the refused order itself on the first delivery; the recipe fails it
    # on every delivery until SQS's redrive policy moves it (see bench.baseline_orders).
    expected = 1 if side.name == OURS_ATOMIC else MAX_RECEIVE_COUNT
    if delivery.receives[short] != expected:
        raise RefusalCheckFailed(
            f"{side.name}: the refused order was delivered {delivery.receives[short]} "
            f"time(s), expected {expected}"
        )


def _scan(client: Any, table: str) -> list[dict[str, Any]]:
    return list(scan_items(client, table))


def verify(side: OrdersSide, batches: list[OrderBatch]) -> dict[str, Any]:
    """Check the side's end state against the batches; raise RefusalCheckFailed if off."""
    resources = side.resources
    dynamodb = resources.dynamodb
    problems: list[str] = []
    committed = set().union(*(batch.committed_order_ids() for batch in batches))
    refused = {batch.short_order_id for batch in batches}
    expected_stock: dict[str, int] = {}
    orders_by_id: dict[str, dict[str, Any]] = {}
    for batch in batches:
        expected_stock.update(batch.expected_stock())
        orders_by_id.update({order["order_id"]: order for order in batch.orders()})

    written = {
        item["order_id"]["S"]: (item["sku"]["S"], int(item["quantity"]["N"]))
        for item in _scan(dynamodb, resources.tables["orders"])
    }
    if set(written) != committed:
        problems.append(
            f"order rows: {len(set(written) - committed)} unexpected, "
            f"{len(committed - set(written))} missing"
        )
    for order_id, (sku, quantity) in written.items():
        order = orders_by_id.get(order_id)
        if order is not None and (order["sku"], order["quantity"]) != (sku, quantity):
            problems.append(f"order row {order_id} differs from its message")
    stock = {
        item["sku"]["S"]: int(item["stock"]["N"])
        for item in _scan(dynamodb, resources.tables["inventory"])
    }
    negative = sorted(sku for sku, level in stock.items() if level < 0)
    if negative:
        problems.append(f"negative stock: {negative}")
    if stock != expected_stock:
        wrong = sorted(sku for sku in expected_stock if stock.get(sku) != expected_stock[sku])
        problems.append(f"stock differs from one take per committed order: {wrong[:5]}")

    letters = resources.dead_letters()
    lettered = Counter(str(letter.document()["order_id"]) for letter in letters)
    if set(lettered) != refused or any(count != 1 for count in lettered.values()):
        problems.append(f"DLQ holds {dict(lettered)}, expected each of {sorted(refused)} once")
    if side.name == OURS_ATOMIC:
        outcomes = {letter.outcome for letter in letters}
        if outcomes != {"refused"}:
            problems.append(f"dead letters' exactly_once.outcome: {outcomes}")
    attributes = resources.sqs.get_queue_attributes(
        QueueUrl=resources.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    if any(int(count) for count in attributes.values()):
        problems.append(f"source queue not empty: {attributes}")

    records = _scan(dynamodb, side.records_table)
    if side.name == BASELINE:
        statuses = Counter(item["status"]["S"] for item in records)
        if statuses != Counter({"COMPLETED": len(committed)}):
            problems.append(f"Powertools records {dict(statuses)}, expected {len(committed)} done")
    elif len(records) != len(committed):
        problems.append(f"{len(records)} records for {len(committed)} committed orders")
    if problems:
        raise RefusalCheckFailed(f"{side.name}: " + "; ".join(problems))
    return {
        "committed_orders": len(committed),
        "refused_orders": len(refused),
        "dead_letters": len(letters),
        "lowest_stock": min(stock.values()),
        "records": len(records),
    }


def run_refusal(settings: Settings) -> dict[str, Any]:
    """Both sides on the same batches; requests and capacity units per batch, verified.

    Call inside ``moto.mock_aws``.
    """
    seed = settings.seed + REFUSAL_SEED_OFFSET
    batches = build_refusal_batches(batch_count(settings), seed=seed)
    # Its own SKUs, from another seed: first-call costs stay out of the figures.
    warmup = build_refusal_batches(1, seed=seed + WARMUP_SEED_OFFSET)
    results: dict[str, Any] = {}
    for name in REFUSAL_SIDES:
        probe = boto3.client("dynamodb", region_name=REGION)
        side = build_orders_side(name, DynamoDBMeter(probe=probe), CallCounter())
        _stock(side, warmup + batches)
        for batch in warmup:
            deliver(side, batch, phase=WARMUP_PHASE, redelivery_phase=WARMUP_PHASE)
        deliveries = []
        for batch in batches:
            delivery = deliver(side, batch, phase=PHASE, redelivery_phase=REDELIVERY_PHASE)
            _check_delivery(side, batch, delivery)
            deliveries.append(delivery)
        side.set_phase("verify")
        checked = verify(side, warmup + batches)
        committed = len(batches) * (REFUSAL_BATCH - REFUSED_PER_BATCH)
        results[name] = {
            "batch_size": REFUSAL_BATCH,
            "batches": len(batches),
            "committed_messages": committed,
            "refused_messages": len(batches) * REFUSED_PER_BATCH,
            "max_receive_count": MAX_RECEIVE_COUNT,
            "requests_per_batch": [d.first_requests for d in deliveries],
            "redelivery_requests_per_refused": [d.redelivery_requests for d in deliveries],
            "deliveries_per_refused": [
                d.receives[b.short_order_id] for d, b in zip(deliveries, batches, strict=True)
            ],
            "tallies": {p: side.meter.tally(p).as_dict() for p in (PHASE, REDELIVERY_PHASE)},
            "handler_sqs_requests": {
                p: side.sqs_calls.operations(p) for p in (PHASE, REDELIVERY_PHASE)
            },
            "verified": checked,
        }
    return results
