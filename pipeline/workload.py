"""Seeded workloads for the ledger: unique transactions, resends, invalid and conflicting ones.

The sent log it produces is the oracle: what the ledger must end up holding is computed
from it alone, never from the consumer's own records.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from decimal import Decimal

# Bodies that must land in the DLQ as invalid, each for its own reason.
INVALID_BODIES = (
    "not json at all",
    "[1, 2, 3]",
    '{"account_id": "acct-0", "amount": "1.00", "currency": "EUR"}',
    '{"transaction_id": "", "account_id": "acct-0", "amount": "1.00", "currency": "EUR"}',
    '{"transaction_id": 7, "account_id": "acct-0", "amount": "1.00", "currency": "EUR"}',
    '{"transaction_id": "bad-amt-%d", "account_id": "a", "amount": "1.005", "currency": "EUR"}',
    '{"transaction_id": "bad-exp-%d", "account_id": "acct-0", "amount": "1e3", "currency": "EUR"}',
    '{"transaction_id": "bad-cur-%d", "account_id": "acct-0", "amount": "1.00", "currency": "XYZ"}',
)


@dataclass(frozen=True)
class Sent:
    """One SendMessage: its body and what the oracle expects of it."""

    body: str
    kind: str  # "original", "resend", "invalid", "conflict"
    transaction_id: str | None = None
    account_id: str | None = None
    currency: str | None = None
    amount_cents: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class Workload:
    waves: list[list[Sent]]

    @property
    def sends(self) -> list[Sent]:
        return [s for wave in self.waves for s in wave]

    def unique_transactions(self) -> int:
        return sum(1 for s in self.sends if s.kind == "original")


def _amount(rng: random.Random) -> tuple[str, int]:
    cents = rng.randint(1, 100_000) * (1 if rng.random() < 0.8 else -1)
    return str(Decimal(cents).scaleb(-2)), cents


def generate(
    *,
    transactions: int,
    accounts: int,
    duplicate_rate: float = 0.2,
    invalid_rate: float = 0.02,
    conflict_rate: float = 0.01,
    wave_size: int = 200,
    seed: int = 7,
) -> Workload:
    """A seeded workload in waves.

    Resends of a transaction go in the same wave as the original or the next one (so some
    arrive concurrently); conflicting variants go two waves later, after the original is
    settled, so the oracle knows which payload wins.
    """
    rng = random.Random(seed)
    currencies = ("EUR", "USD", "GBP")
    wave_count = max(1, -(-transactions // wave_size))
    waves: list[list[Sent]] = [[] for _ in range(wave_count + 2)]
    for index in range(transactions):
        wave = index // wave_size
        account = f"acct-{rng.randrange(accounts)}"
        currency = currencies[rng.randrange(len(currencies))]
        amount, cents = _amount(rng)
        tx_id = f"tx-{seed}-{index:07d}"
        body = {
            "transaction_id": tx_id,
            "account_id": account,
            "amount": amount,
            "currency": currency,
        }
        original = Sent(json.dumps(body), "original", tx_id, account, currency, cents)
        waves[wave].append(original)
        if rng.random() < duplicate_rate:
            resend_wave = wave + rng.randrange(2)
            # Same content, other key order: the payload hash must not care.
            resend = json.dumps(dict(reversed(list(body.items()))))
            waves[resend_wave].append(Sent(resend, "resend", tx_id, account, currency, cents))
        if rng.random() < conflict_rate:
            variant_cents = cents + 1 or 2  # never zero, which the ledger refuses
            other = dict(body, amount=str(Decimal(variant_cents).scaleb(-2)))
            waves[wave + 2].append(
                Sent(json.dumps(other), "conflict", tx_id, account, currency, variant_cents)
            )
        if rng.random() < invalid_rate:
            template = INVALID_BODIES[rng.randrange(len(INVALID_BODIES))]
            text = template % index if "%d" in template else template
            waves[wave].append(Sent(text, "invalid"))
    for sends in waves:
        rng.shuffle(sends)
    return Workload(waves=[w for w in waves if w])
