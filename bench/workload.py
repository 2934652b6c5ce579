"""The seeded workload both sides run: ledger transactions, then their duplicates."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

CURRENCIES = ("EUR", "USD", "GBP")
MIXED_DUPLICATES_PER_BATCH = 1  # the mixed phase: one redelivery per batch of 10, ~10%


@dataclass(frozen=True)
class Workload:
    """Message bodies in delivery order; duplicates are the same bodies, re-sent shuffled."""

    bodies: list[str]
    duplicates: list[str]

    def expected_balances(self) -> dict[tuple[str, str], int]:
        """Cents per (account, currency) once every transaction is applied exactly once."""
        totals: dict[tuple[str, str], int] = {}
        for body in self.bodies:
            document = json.loads(body)
            key = (document["account_id"], document["currency"])
            cents = int(Decimal(document["amount"]).scaleb(2))
            totals[key] = totals.get(key, 0) + cents
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
    fresh: list[str], seen: list[str], *, size: int, duplicates_per_batch: int, seed: int
) -> list[list[str]]:
    """Batches of ``size``: fresh bodies with ``duplicates_per_batch`` redelivered ones mixed in.

    The redelivered bodies are drawn from ``seen`` (already processed) and land at random
    places in their batch, as a retry arriving among new traffic would.
    """
    fresh_per_batch = size - duplicates_per_batch
    if fresh_per_batch < 1 or duplicates_per_batch < 0:
        raise ValueError(f"{duplicates_per_batch} duplicates do not fit a batch of {size}")
    rng = random.Random(seed)
    mixed: list[list[str]] = []
    for group in batches(fresh, fresh_per_batch):
        batch = list(group)
        for body in rng.sample(seen, duplicates_per_batch):
            batch.insert(rng.randrange(len(batch) + 1), body)
        mixed.append(batch)
    return mixed
