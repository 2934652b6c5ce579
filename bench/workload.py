"""The seeded workload both sides run: ledger transactions, then their duplicates."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

CURRENCIES = ("EUR", "USD", "GBP")


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
