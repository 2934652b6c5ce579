"""Two stages, exactly-once end to end: orders charge the ledger, under faults, judged from
the data alone.

The app's orders consumer takes stock and writes the order in one transaction with its
record, then sends the order's charge (``order:{order_id}``) to the ledger's queue; the
ledger consumer applies it, keyed by that transaction id. Both stacks are deployed on one
local cloud, each mapping played by a poller whose containers carry fault hooks: every
fault of the ledger campaigns (crashes before and after the commit, lost acks, throttling,
transaction conflicts, stalls past the visibility timeout) at both stages, plus crashes
between the orders commit and the charge's send, and after the send before the ack. Then
both DLQs are redriven with faults off (the orders' first, whose redelivered messages may
send charges; then the ledger's), and everything is judged:

- stock never negative, and each SKU's stock fell by exactly the accepted orders' units;
- every accepted order (a row in the orders table) charged exactly once in the ledger
  (its ``order:{id}`` record, its customer's balance and transaction count), every
  refused order never charged and in the orders DLQ with its reason, and refused only
  when its SKU's stock is below its quantity;
- nothing lost (every order accepted or refused; every invalid body in the DLQ with its
  reason), nothing doubled, the ledger's DLQ empty.

``resend_duplicates=False`` runs the same with the layer's re-send on duplicates switched
off (a mutation, never a setting of the layer): a charge whose send crashed after the
commit is then lost, and the verdict must fail.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from pipeline.faults import (
    OBSERVED,
    FaultCounts,
    FaultRates,
    inject_client_faults,
    inject_send_faults,
)
from pipeline.report_html import Report, Stage

ORDERS, LEDGER = "orders", "ledger"
CHARGE_PREFIX = "order:"  # orders.effect.charge_id (the harness does not import the code)
REASON_ATTRIBUTE = "exactly_once.reason"
SQS_MOVED = "moved by SQS after maxReceiveCount"


STAGE_FAULTS = FaultRates(
    crash_before_effect=0.03,
    crash_after_effect=0.03,
    lost_response=0.03,
    throttle=0.03,
    transaction_conflict=0.03,
    stall=0.01,
    stall_seconds=3.0,  # past the visibility timeout (2 s): another invocation takes over
)


@dataclass(frozen=True)
class ChainSettings:
    orders: int = 240
    skus: int = 12
    customers: int = 15
    duplicate_rate: float = 0.25
    invalid_rate: float = 0.03
    # Stock per SKU as a share of the units ordered of it: some orders are refused.
    stock_share: float = 0.8
    wave_size: int = 80
    consumers: int = 3  # per stage
    visibility_timeout: int = 2
    seed: int = 23
    stage: str = "dev"
    # Every fault of the campaigns at both stages; at the orders stage, crashes around the
    # charge's send as well.
    orders_faults: FaultRates = field(
        default_factory=lambda: replace(STAGE_FAULTS, crash_before_send=0.08, crash_after_send=0.08)
    )
    ledger_faults: FaultRates = field(default_factory=lambda: STAGE_FAULTS)

    @classmethod
    def long(cls) -> ChainSettings:
        """The documented long run: 5,000 orders over 60 SKUs and 200 customers."""
        return cls(orders=5_000, skus=60, customers=200, wave_size=250, consumers=4)

    @classmethod
    def demo(cls) -> ChainSettings:
        """The demo's run: small enough for a minute on two cores, every fault in it."""
        return cls(orders=200, wave_size=100, consumers=2)


# --- the workload --------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderSent:
    """One SendMessage to the orders queue, and what the oracle expects of it."""

    body: str
    kind: str  # "original", "resend", "invalid"
    order_id: str | None = None
    sku: str | None = None
    quantity: int = 0
    customer_id: str | None = None
    charge_cents: int = 0


@dataclass
class OrdersWorkload:
    waves: list[list[OrderSent]]
    stock: dict[str, int]

    @property
    def sends(self) -> list[OrderSent]:
        return [s for wave in self.waves for s in wave]

    def originals(self) -> dict[str, OrderSent]:
        return {s.order_id: s for s in self.sends if s.kind == "original" and s.order_id}


def orders_workload(settings: ChainSettings) -> OrdersWorkload:
    """Seeded orders: originals, exact re-sends (a producer's retries) and invalid bodies;
    the stock covers ``stock_share`` of the units ordered per SKU. (Order ids reused with
    another body are left to the ledger campaigns: under redeliveries either body may
    arrive first, so which one is the order is a race, not a rule to judge.)"""
    rng = random.Random(settings.seed)
    skus = [f"sku-{i:03d}" for i in range(settings.skus)]
    customers = [f"customer-{i:03d}" for i in range(settings.customers)]
    originals: list[OrderSent] = []
    for i in range(settings.orders):
        order_id, sku = f"order-{settings.seed}-{i:06d}", rng.choice(skus)
        quantity, customer = rng.randint(1, 5), rng.choice(customers)
        unit_price_cents = rng.randint(50, 20_000)
        body = {
            "order_id": order_id,
            "sku": sku,
            "quantity": quantity,
            "customer_id": customer,
            "unit_price_cents": unit_price_cents,
        }
        originals.append(
            OrderSent(
                body=json.dumps(body),
                kind="original",
                order_id=order_id,
                sku=sku,
                quantity=quantity,
                customer_id=customer,
                charge_cents=quantity * unit_price_cents,
            )
        )
    demand: Counter[str] = Counter()
    for sent in originals:
        demand[sent.sku or ""] += sent.quantity
    stock = {sku: int(demand[sku] * settings.stock_share) for sku in skus}
    sends: list[OrderSent] = list(originals)
    for sent in originals:
        if rng.random() < settings.duplicate_rate:
            sends.append(replace(sent, kind="resend"))
    for i in range(int(settings.orders * settings.invalid_rate)):
        bad = [
            "not json at all",
            json.dumps({"order_id": f"bad-{i}", "sku": "sku-000", "quantity": 0}),
            json.dumps({"order_id": f"bad-{i}", "sku": "sku-000", "quantity": 1}),  # no price
        ][i % 3]
        sends.append(OrderSent(body=bad, kind="invalid"))
    rng.shuffle(sends)
    waves = [sends[i : i + settings.wave_size] for i in range(0, len(sends), settings.wave_size)]
    return OrdersWorkload(waves=waves, stock=stock)


# --- the run -------------------------------------------------------------------------------


@dataclass
class StageResult:
    name: str
    delivered: int
    redelivered: int
    invocations: int
    outcomes: dict[str, int]
    faults: dict[str, int]
    redriven: int


@dataclass
class ChainVerdict:
    orders_sent: int
    unique_orders: int
    accepted: int
    refused: int
    charged: int
    ledger_dead_letters: int
    orders_dead_letter_reasons: dict[str, int]
    problems: dict[str, list[str]] = field(default_factory=dict)
    # For the report's tables: customer -> (expected cents, charges, found cents, charges),
    # and SKU -> (expected stock, found stock).
    charges: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    stock: dict[str, tuple[int, int]] = field(default_factory=dict)

    def problem(self, kind: str, detail: str) -> None:
        self.problems.setdefault(kind, []).append(detail)

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass
class ChainReport:
    where: str
    settings: dict[str, Any]
    resend_duplicates: bool
    stages: list[StageResult]
    verdict: ChainVerdict
    wall_seconds: float
    # Each stage's timeline, for the HTML report (not in the JSON).
    recorded: list[Stage] = field(default_factory=list, repr=False)

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    def to_json(self) -> str:
        body = asdict(self)
        body.pop("recorded", None)
        body["verdict"]["passed"] = self.verdict.passed
        body["passed"] = self.passed
        return json.dumps(body, indent=2, sort_keys=True, default=str)


@contextlib.contextmanager
def resend_on_duplicates(enabled: bool) -> Iterator[None]:
    """With ``enabled`` False, the layer sends downstream messages for newly processed
    messages only, never again for a duplicate (a mutation, to show the oracle catches
    it). The layer decides it in one place: the outcomes its messages are sent on."""
    from exactly_once import Outcome
    from exactly_once import downstream as layer

    original = layer._SENT_ON
    if not enabled:
        layer._SENT_ON = (Outcome.PROCESSED,)
    try:
        yield
    finally:
        layer._SENT_ON = original


def run_chain(
    settings: ChainSettings, *, out: TextIO = sys.stderr, resend_duplicates: bool = True
) -> ChainReport:
    """Deploy both stacks on a fresh local cloud, run the orders under faults, redrive both
    DLQs, settle with faults off, judge."""
    from exactly_once_local import moto_patches
    from exactly_once_local.local_cloud import start_local_cloud
    from exactly_once_local.moto_deploy import LocalClients
    from exactly_once_local.moto_server import free_port, patched_environ
    from pipeline.local_cloud import app_assembly, ledger_stack_name, quiet_moto

    moto_patches.install()
    quiet_moto()
    started = time.monotonic()
    workload = orders_workload(settings)
    orders_stack, ledger_stack = (
        f"ExactlyOnceOrders-{settings.stage}",
        ledger_stack_name(settings.stage),
    )
    print("starting the local cloud (moto server, orders and ledger stacks)...", file=out)
    cloud = start_local_cloud(
        app_assembly(settings.stage),
        free_port(),
        stacks=[ledger_stack, orders_stack],
        poll=False,
    )
    quiet = {"POWERTOOLS_LOG_LEVEL": "CRITICAL", "POWERTOOLS_METRICS_DISABLED": "true"}
    try:
        with patched_environ(quiet), resend_on_duplicates(resend_duplicates):
            clients = LocalClients(cloud.endpoint_url, cloud.endpoint.region)
            sqs, dynamodb = clients.client("sqs"), clients.client("dynamodb")
            orders_out = cloud.stacks[orders_stack].outputs
            ledger_out = cloud.stacks[ledger_stack].outputs
            stocked(dynamodb, orders_out["InventoryTableName"], workload.stock)
            consumers = {c.stack_name: c for c in cloud.consumers}
            active = {ORDERS: [settings.orders_faults], LEDGER: [settings.ledger_faults]}
            counts = {ORDERS: FaultCounts(), LEDGER: FaultCounts()}
            # Per stage: its stack, its outputs, and the queue it sends on to.
            wiring = {
                ORDERS: (orders_stack, orders_out, ledger_out["QueueUrl"]),
                LEDGER: (ledger_stack, ledger_out, None),
            }
            pollers = {
                stage: stage_poller(
                    consumers[stack],
                    sqs,
                    outputs,
                    rates=active[stage],
                    counts=counts[stage],
                    settings=settings,
                    quiet=quiet,
                    downstream_queue=downstream,
                )
                for stage, (stack, outputs, downstream) in wiring.items()
            }
            from pipeline.campaign import redrive
            from pipeline.demo import send_wave
            from pipeline.timeline import Recorder

            recorders = {ORDERS: Recorder(), LEDGER: Recorder()}
            for stage in (ORDERS, LEDGER):
                recorders[stage].attach(pollers[stage])
            with (
                recorders[ORDERS].sampling_dlq(sqs, orders_out["DeadLetterQueueUrl"]),
                recorders[LEDGER].sampling_dlq(sqs, ledger_out["DeadLetterQueueUrl"]),
            ):
                sent = 0
                for wave in workload.waves:
                    send_wave(sqs, orders_out["QueueUrl"], wave)
                    sent += len(wave)
                    settle(pollers)
                    print(
                        f"sent {sent}/{len(workload.sends)} orders; orders stage "
                        f"{pollers[ORDERS].stats.invocations} invocations, ledger stage "
                        f"{pollers[LEDGER].stats.invocations}",
                        file=out,
                        flush=True,
                    )
                # An operator's redrive at both stages, settled with faults off.
                for stage in (ORDERS, LEDGER):
                    active[stage][0] = FaultRates()
                    pollers[stage].faults = FaultRates()
                recorders[ORDERS].mark("redrive")
                redriven = {
                    ORDERS: redrive(sqs, orders_out["DeadLetterQueueUrl"], orders_out["QueueUrl"])
                }
                settle(pollers)
                recorders[LEDGER].mark("redrive")
                redriven[LEDGER] = redrive(
                    sqs, ledger_out["DeadLetterQueueUrl"], ledger_out["QueueUrl"]
                )
                settle(pollers)
            print(
                f"redrove {redriven[ORDERS]} orders and {redriven[LEDGER]} charges from the "
                "DLQs; judging",
                file=out,
                flush=True,
            )
            verdict = judge_chain(
                workload,
                dynamodb,
                sqs,
                orders_out,
                ledger_out,
                ledger_key_prefix=consumers[ledger_stack].function.environment[
                    "IDEMPOTENCY_KEY_PREFIX"
                ],
            )
    finally:
        cloud.stop()
    stages = [
        StageResult(
            name=name,
            delivered=pollers[name].stats.delivered,
            redelivered=pollers[name].stats.redelivered,
            invocations=pollers[name].stats.invocations,
            outcomes=dict(pollers[name].stats.outcomes),
            faults=counts[name].as_dict(),
            redriven=redriven[name],
        )
        for name in (ORDERS, LEDGER)
    ]
    recorded = [
        recorders[name].stage(
            f"{name} stage",
            faults=counts[name].events(),
            facts=[
                ("delivered", f"{result.delivered} in {result.invocations} invocations"),
                ("redelivered", str(result.redelivered)),
                ("redriven from its DLQ", str(result.redriven)),
            ],
        )
        for name, result in zip((ORDERS, LEDGER), stages, strict=True)
    ]
    return ChainReport(
        where=f"the local cloud (stacks {orders_stack} and {ledger_stack})",
        settings=asdict(settings),
        resend_duplicates=resend_duplicates,
        stages=stages,
        verdict=verdict,
        wall_seconds=round(time.monotonic() - started, 1),
        recorded=recorded,
    )


def stocked(dynamodb: Any, inventory_table: str, stock: dict[str, int]) -> None:
    for sku, units in stock.items():
        dynamodb.put_item(
            TableName=inventory_table, Item={"sku": {"S": sku}, "stock": {"N": str(units)}}
        )


def stage_poller(
    consumer: Any,
    sqs: Any,
    outputs: dict[str, str],
    *,
    rates: list[FaultRates],
    counts: FaultCounts,
    settings: ChainSettings,
    quiet: dict[str, str],
    downstream_queue: str | None = None,
) -> Any:
    """A poller for one stage's mapping; each worker a warm container with fault hooks on
    its DynamoDB client (and on its sends to ``downstream_queue``). Time is compressed as
    in the campaigns: the queue's visibility timeout is ``settings.visibility_timeout``."""
    from exactly_once_local.runtime import LocalContainer
    from pipeline.poller import FaultyPoller

    function = dataclasses.replace(
        consumer.function, environment={**consumer.function.environment, **quiet}
    )
    sqs.set_queue_attributes(
        QueueUrl=outputs["QueueUrl"],
        Attributes={"VisibilityTimeout": str(settings.visibility_timeout)},
    )
    containers: dict[int, Any] = {}
    offset = 0 if downstream_queue is not None else 104_729

    def container_for(worker: int) -> Any:
        if worker not in containers:
            container = LocalContainer(function, consumer.mapping.report_batch_item_failures)
            rng = random.Random(settings.seed * 7919 + worker + offset)
            inject_client_faults(
                container.dynamodb,
                lambda: rates[0],
                counts,
                rng,
                idempotency_table=outputs["IdempotencyTableName"],
            )
            if downstream_queue is not None:
                inject_send_faults(
                    container.sqs, lambda: rates[0], counts, rng, queue_url=downstream_queue
                )
            containers[worker] = container
        return containers[worker]

    return FaultyPoller(
        sqs=sqs,
        queue_url=outputs["QueueUrl"],
        queue_arn=consumer.mapping.queue_arn,
        handler_factory=container_for,
        batch_size=consumer.mapping.batch_size,
        concurrency=settings.consumers,
        timeout_seconds=float(function.timeout_seconds),
        faults=rates[0],
        fault_counts=counts,
        seed=settings.seed + offset,
        function_name=consumer.function.name,
    )


def settle(pollers: dict[str, Any], rounds: int = 20) -> None:
    """Drain the orders stage while the ledger's polls beside it (as two deployed mappings
    run), then drain the ledger's; again until both are empty (a redelivered order may
    send a charge after the ledger's queue emptied)."""
    for _ in range(rounds):
        stop = threading.Event()
        beside = threading.Thread(
            target=pollers[LEDGER].run_until, args=(stop,), daemon=True, name="ledger-poller"
        )
        beside.start()
        try:
            pollers[ORDERS].drain(deadline_seconds=600)
        finally:
            stop.set()
            beside.join()
        pollers[LEDGER].drain(deadline_seconds=600)
        if pollers[ORDERS].is_empty() and pollers[LEDGER].is_empty():
            return
    raise RuntimeError("the two stages did not settle")


# --- the oracle ----------------------------------------------------------------------------


def _dead_letters(sqs: Any, queue_url: str) -> list[tuple[str, str]]:
    from pipeline.verdict import drain_dead_letters

    return [
        (
            m["Body"],
            str(
                m.get("MessageAttributes", {})
                .get(REASON_ATTRIBUTE, {})
                .get("StringValue", SQS_MOVED)
            ),
        )
        for m in drain_dead_letters(sqs, queue_url)
    ]


def judge_chain(
    workload: OrdersWorkload,
    dynamodb: Any,
    sqs: Any,
    orders_out: dict[str, str],
    ledger_out: dict[str, str],
    *,
    ledger_key_prefix: str,
) -> ChainVerdict:
    """The end-to-end verdict, from the tables and the DLQs against the sent log."""
    from exactly_once.keys import KeySpec
    from pipeline.resources import scan_items
    from pipeline.verdict import body_field, ledger_balances

    stock = {
        i["sku"]["S"]: int(i["stock"]["N"])
        for i in scan_items(dynamodb, orders_out["InventoryTableName"])
    }
    rows = {i["order_id"]["S"]: i for i in scan_items(dynamodb, orders_out["OrdersTableName"])}
    charged_records = {
        i["id"]["S"]
        for i in scan_items(dynamodb, ledger_out["IdempotencyTableName"])
        if i.get("status", {}).get("S") == "COMPLETED"
    }
    balances = ledger_balances(dynamodb, ledger_out["LedgerTableName"])
    orders_dead = _dead_letters(sqs, orders_out["DeadLetterQueueUrl"])
    ledger_dead = _dead_letters(sqs, ledger_out["DeadLetterQueueUrl"])
    key = KeySpec(prefix=ledger_key_prefix, path="transaction_id")
    originals = workload.originals()
    refused_ids = {
        order_id
        for body, reason in orders_dead
        if reason.startswith("out of stock") and (order_id := body_field(body, "order_id"))
    }
    verdict = ChainVerdict(
        orders_sent=len(workload.sends),
        unique_orders=len(originals),
        accepted=len(rows),
        refused=len(refused_ids),
        charged=sum(1 for r in rows if key.record_id(CHARGE_PREFIX + r) in charged_records),
        ledger_dead_letters=len(ledger_dead),
        orders_dead_letter_reasons=dict(Counter(_category(r) for _, r in orders_dead)),
    )
    # Stock: never negative; fell by exactly the accepted orders' units.
    taken: Counter[str] = Counter()
    for order_id, row in rows.items():
        taken[row["sku"]["S"]] += int(row["quantity"]["N"])
        sent = originals.get(order_id)
        if sent is None:
            verdict.problem("unknown order accepted", order_id)
        elif _row_of(row) != (sent.sku, sent.quantity, sent.customer_id, sent.charge_cents):
            verdict.problem("order row differs from the order sent", order_id)
    for sku, initial in workload.stock.items():
        verdict.stock[sku] = (initial - taken[sku], stock.get(sku, 0))
        if stock.get(sku, 0) < 0:
            verdict.problem("negative stock", f"{sku}: {stock[sku]}")
        if initial - stock.get(sku, 0) != taken[sku]:
            verdict.problem(
                "stock and accepted orders disagree",
                f"{sku}: {initial} - {stock.get(sku, 0)} taken, accepted orders hold {taken[sku]}",
            )
    # Every order accepted or refused, not both; a refusal only when the stock is short.
    for order_id, sent in sorted(originals.items()):
        accepted, refused = order_id in rows, order_id in refused_ids
        if accepted and refused:
            verdict.problem("accepted and refused", order_id)
        elif not (accepted or refused):
            verdict.problem("lost order (neither accepted nor refused)", order_id)
        elif refused and stock.get(sent.sku or "", 0) >= sent.quantity:
            verdict.problem("refused with stock left", f"{order_id}: {sent.quantity} of {sent.sku}")
        charged = key.record_id(CHARGE_PREFIX + order_id) in charged_records
        if accepted and not charged:
            verdict.problem("accepted, never charged (charge lost)", order_id)
        if refused and not accepted and charged:
            verdict.problem("refused, yet charged", order_id)
    # Each customer's balance: exactly the accepted orders' charges, each once.
    want: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for order_id in rows:
        if (sent := originals.get(order_id)) is not None and sent.customer_id:
            want[sent.customer_id][0] -= sent.charge_cents
            want[sent.customer_id][1] += 1
    customers = set(want) | {account for account, _ in balances}
    for customer in sorted(customers):
        balance, count = balances.get((customer, "EUR"), (0, 0))
        expected_balance, expected_count = want.get(customer, [0, 0])
        verdict.charges[customer] = (expected_balance, expected_count, balance, count)
        if count > expected_count:
            verdict.problem(
                "charged twice", f"{customer}: {count} charges, {expected_count} accepted orders"
            )
        elif (balance, count) != (expected_balance, expected_count):
            verdict.problem(
                "wrong balance",
                f"{customer}: {balance} cents in {count} charges, expected {expected_balance} "
                f"in {expected_count}",
            )
    # Every invalid body in the orders DLQ, with its reason.
    expected_dead = Counter(s.body for s in workload.sends if s.kind == "invalid")
    present = Counter(body for body, reason in orders_dead if reason != SQS_MOVED)
    missing = expected_dead - present
    if missing:
        verdict.problem("invalid orders missing from the DLQ", f"{sum(missing.values())}")
    for body, reason in orders_dead:
        if reason == SQS_MOVED:
            verdict.problem("order left in the DLQ without a reason", body[:80])
    for body, reason in ledger_dead:
        verdict.problem("charge in the ledger's DLQ", f"{reason[:80]}: {body[:80]}")
    return verdict


def _row_of(row: dict[str, Any]) -> tuple[str, int, str | None, int]:
    """An order row as (sku, quantity, customer, charge in cents)."""
    return (
        row["sku"]["S"],
        int(row["quantity"]["N"]),
        row.get("customer_id", {}).get("S"),
        int(row.get("charge_cents", {}).get("N", "0")),
    )


def _category(reason: str) -> str:
    if reason.startswith("out of stock"):
        return "refused: out of stock"
    if "different payload" in reason:
        return "conflict: order id reused with another body"
    if reason == SQS_MOVED:
        return "failed deliveries: " + SQS_MOVED
    return "invalid: " + reason.removeprefix("invalid order: ").split(":")[0][:40]


# --- the report ----------------------------------------------------------------------------


def render_chain(report: ChainReport) -> str:
    v = report.verdict
    lines = [f"Two stages, orders -> ledger, on {report.where}"]
    if not report.resend_duplicates:
        lines.append("  (mutation: downstream re-send on duplicates switched off)")
    for stage in report.stages:
        outcomes = ", ".join(f"{k} {n}" for k, n in sorted(stage.outcomes.items()))
        faults = ", ".join(
            f"{k.replace('_', ' ')} {n}" for k, n in stage.faults.items() if n and k not in OBSERVED
        )
        lines += [
            f"  [{stage.name}] delivered {stage.delivered} in {stage.invocations} invocations, "
            f"redelivered {stage.redelivered}, redriven from its DLQ {stage.redriven}",
            f"    outcomes: {outcomes}",
            f"    faults: {faults or 'none'}",
        ]
    lines += [
        f"  orders sent {v.orders_sent} ({v.unique_orders} unique): accepted {v.accepted}, "
        f"refused {v.refused}; charged in the ledger {v.charged}; ledger DLQ "
        f"{v.ledger_dead_letters}",
        "  orders DLQ: "
        + ", ".join(f"{r} {n}" for r, n in sorted(v.orders_dead_letter_reasons.items())),
        f"  wall time {report.wall_seconds:.1f} s",
    ]
    if v.passed:
        lines.append(
            f"VERDICT: PASS - stock never negative; {v.accepted} accepted orders charged "
            f"exactly once, {v.refused} refused orders never; none lost, none doubled"
        )
    else:
        lines.append("VERDICT: FAIL")
        for kind, details in v.problems.items():
            lines.append(f"  {kind}: {len(details)}")
            lines += [f"    {d}" for d in details[:5]]
    return "\n".join(lines)


def chain_stages(report: ChainReport) -> list[Stage]:
    """The report's stages for the HTML page, with the oracle's tables on the last."""
    from pipeline.timeline import comparison_table

    v = report.verdict
    stages = [
        replace(stage, tables=list(stage.tables), notes=list(stage.notes))
        for stage in report.recorded
    ] or [Stage(f"{result.name} stage") for result in report.stages]
    charges = comparison_table(
        "Charges per customer (ledger): expected against found",
        ["customer", "expected cents", "expected charges", "found cents", "found charges"],
        {c: (row[0], row[1]) for c, row in v.charges.items()},
        {c: (row[2], row[3]) for c, row in v.charges.items()},
    )
    stock = comparison_table(
        "Stock per SKU (orders): initial minus the accepted orders' units, against found",
        ["SKU", "expected", "found"],
        {sku: (row[0],) for sku, row in v.stock.items()},
        {sku: (row[1],) for sku, row in v.stock.items()},
    )
    stages[0].tables.append(stock)
    stages[-1].tables.append(charges)
    for kind, details in v.problems.items():
        stages[-1].notes.append(f"{kind}: {len(details)} ({', '.join(details[:3])})")
    return stages


def chain_verdict_line(report: ChainReport) -> str:
    return render_chain(report).rpartition("VERDICT: ")[2].splitlines()[0]


def chain_page(report: ChainReport) -> Report:
    return Report(
        title="Exactly-once across two stages: orders -> ledger",
        subtitle=f"on {report.where}; {report.verdict.orders_sent} orders sent; wall time "
        f"{report.wall_seconds:.1f} s",
        passed=report.passed,
        verdict=chain_verdict_line(report).removeprefix("PASS - ").removeprefix("FAIL").strip()
        or "the stages do not match the orders sent (see the problems below)",
        stages=chain_stages(report),
    )


def main_chain(args: Any) -> int:
    """``python -m pipeline chain``: run, print the report, write its JSON."""
    import os

    for name, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}.items():
        os.environ.setdefault(name, value)  # the local cloud takes any; never send real ones
    settings = ChainSettings.long() if args.long else ChainSettings()
    if args.orders:
        settings = replace(settings, orders=args.orders)
    if args.seed is not None:
        settings = replace(settings, seed=args.seed)
    report = run_chain(settings, resend_duplicates=not args.no_resend)
    print(render_chain(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(report.to_json())
        print(f"report written to {args.json}")
    from pipeline.report_html import html_path_beside, write_html

    page = write_html(chain_page(report), html_path_beside(args.json, "reports/chain.json"))
    print(f"HTML report: {page}")
    return 0 if report.passed else 1


def add_chain_command(commands: Any) -> None:
    """``python -m pipeline chain``."""
    chain = commands.add_parser(
        "chain",
        help="prove exactly-once across two stages (orders -> ledger) under faults",
        description=(
            "Deploys the orders and ledger stacks on the local cloud, sends seeded orders "
            "(re-sent, invalid, some out of stock) under every fault at both stages plus "
            "crashes around the charge's send, redrives both DLQs, and judges from the data "
            "alone: stock never negative, every accepted order charged exactly once, every "
            "refused order never, nothing lost. Example: python -m pipeline chain --long"
        ),
    )
    chain.add_argument(
        "--long", action="store_true", help="5,000 orders (default: a short run of 240)"
    )
    chain.add_argument("--orders", type=int, help="override the number of orders")
    chain.add_argument("--seed", type=int, help="override the workload's seed")
    chain.add_argument(
        "--no-resend",
        action="store_true",
        help="switch off the re-send on duplicates (a mutation: the verdict must fail)",
    )
    chain.add_argument("--json", default="reports/chain.json", help="where to write the JSON")
    chain.set_defaults(run=main_chain)
