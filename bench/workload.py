"""The seeded workload both sides run: ledger transactions, then their duplicates."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

CURRENCIES = ("EUR", "USD", "GBP")
# The mixed phase: each message is a redelivery of one already processed with this
# probability (drawn per message, so a batch of 10 holds none, one or several).
MIXED_REDELIVERY_RATE = 0.1


@dataclass(frozen=True)
class Workload:
    """Message bodies in delivery order; duplicates are the same bodies, re-sent shuffled."""

    bodies: list[str]
    duplicates: list[str]

    def expected_balances(self) -> dict[tuple[str, str], int]:
        """Minor units per (account, currency) once every transaction is applied exactly once
        (every currency here has two places)."""
        totals: dict[tuple[str, str], int] = {}
        for body in self.bodies:
            document = json.loads(body)
            key = (document["account_id"], document["currency"])
            minor = int(Decimal(document["amount"]).scaleb(2))
            totals[key] = totals.get(key, 0) + minor
        return totals


def build_workload(messages: int, *, seed: int, accounts: int = 10_000) -> Workload:
    """``messages`` transactions over ``accounts`` accounts, all drawn from ``seed``.

    Many accounts, so a batch rarely holds two messages for one balance: the case where
    atomic mode cannot merge balance updates, the most write units it can cost.
    """
    rng = random.Random(seed)
    bodies: list[str] = []
    for index in range(messages):
        document: dict[str, Any] = {
            "transaction_id": f"tx-{seed}-{index:07d}",
            "account_id": f"acct-{rng.randrange(accounts):06d}",
            "amount": f"{rng.randint(1, 50_000) / 100:.2f}",
            "currency": rng.choice(CURRENCIES),
        }
        bodies.append(json.dumps(document))
    duplicates = list(bodies)
    rng.shuffle(duplicates)  # a producer's retries arrive regrouped, not as the same batches
    return Workload(bodies=bodies, duplicates=duplicates)


def batches(bodies: list[str], size: int) -> list[list[str]]:
    return [bodies[start : start + size] for start in range(0, len(bodies), size)]


def mixed_batches(
    fresh: list[str], seen: list[str], *, size: int, redelivery_rate: float, seed: int
) -> list[list[str]]:
    """Every ``fresh`` body in order, in batches of ``size``, with redeliveries mixed in: each
    place in the stream is a redelivery with probability ``redelivery_rate`` (seeded), so
    batches hold none, one or several, as retries arriving among new traffic would.

    A redelivered body is drawn from ``seen`` (already processed), never twice in one batch.
    The last batch may be partial.
    """
    if not 0 <= redelivery_rate < 1:
        raise ValueError(f"a redelivery rate must be in [0, 1), got {redelivery_rate}")
    if redelivery_rate and len(seen) < size:
        raise ValueError(f"{len(seen)} processed bodies cannot fill a batch of {size}")
    rng = random.Random(seed)
    mixed: list[list[str]] = []
    batch: list[str] = []
    remaining = iter(fresh)
    pending = next(remaining, None)
    while pending is not None:
        if rng.random() < redelivery_rate:
            body = rng.choice(seen)
            while body in batch:
                body = rng.choice(seen)
        else:
            body, pending = pending, next(remaining, None)
        batch.append(body)
        if len(batch) == size:
            mixed.append(batch)
            batch = []
    if batch:
        mixed.append(batch)
    return mixed


# --- the refusal row: orders, one out of stock per batch --------------------------------------

REFUSAL_BATCH = 10
MAX_ORDER_QUANTITY = 5


@dataclass(frozen=True)
class OrderBatch:
    """One batch of orders for distinct SKUs, the stock each SKU starts with, and the one
    order whose SKU is short (its stock below its quantity)."""

    bodies: list[str]
    stock: dict[str, int]
    short_order_id: str

    def orders(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.bodies]

    def committed_order_ids(self) -> set[str]:
        return {order["order_id"] for order in self.orders()} - {self.short_order_id}

    def expected_stock(self) -> dict[str, int]:
        """Each SKU's stock once the batch is done: taken once per committed order, and the
        short SKU untouched."""
        stock = dict(self.stock)
        for order in self.orders():
            if order["order_id"] != self.short_order_id:
                stock[order["sku"]] -= order["quantity"]
        return stock


def build_refusal_batches(
    batch_count: int, *, seed: int, size: int = REFUSAL_BATCH
) -> list[OrderBatch]:
    """``batch_count`` batches of ``size`` orders, each for its own SKU (SKUs are never
    shared, within a batch or across batches), exactly one per batch out of stock.

    In-stock SKUs hold the quantity ordered plus 0-20 (so some end at exactly 0, the
    condition's boundary); the short SKU holds fewer than its order's quantity (0 included).
    Where the short order sits in its batch is drawn from ``seed`` too.
    """
    rng = random.Random(seed)
    built: list[OrderBatch] = []
    for batch in range(batch_count):
        short = rng.randrange(size)
        bodies: list[str] = []
        stock: dict[str, int] = {}
        short_order_id = ""
        for index in range(size):
            order_id = f"order-{seed}-{batch:05d}-{index:02d}"
            sku = f"sku-{seed}-{batch:05d}-{index:02d}"
            quantity = rng.randint(1, MAX_ORDER_QUANTITY)
            if index == short:
                stock[sku] = rng.randrange(quantity)
                short_order_id = order_id
            else:
                stock[sku] = quantity + rng.randint(0, 20)
            bodies.append(json.dumps({"order_id": order_id, "sku": sku, "quantity": quantity}))
        built.append(OrderBatch(bodies=bodies, stock=stock, short_order_id=short_order_id))
    return built
