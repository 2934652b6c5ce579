"""A fake external system that honours idempotency keys, like a payment provider's API."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledger.model import LedgerTransaction, parse_transaction


@dataclass
class FakePaymentProvider:
    """Counts raw calls and applied charges; a repeated key is acknowledged, not applied."""

    calls: list[tuple[str, int]] = field(default_factory=list)
    applied: dict[str, int] = field(default_factory=dict)
    before_apply: Callable[[], None] = lambda: None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def charge(self, idempotency_key: str, amount_cents: int, attempt: int) -> None:
        self.before_apply()
        with self._lock:
            self.calls.append((idempotency_key, attempt))
            self.applied.setdefault(idempotency_key, amount_cents)


@dataclass
class PaymentEffect:
    """A leased-mode effect: the ledger message charged at the provider, key passed on."""

    provider: FakePaymentProvider
    steps: Any = None

    def parse(self, document: dict[str, Any]) -> LedgerTransaction:
        return parse_transaction(document)

    def apply(self, message: LedgerTransaction, idempotency_key: str, attempt: int) -> None:
        if self.steps is None:
            self.provider.charge(idempotency_key, message.amount_minor, attempt)
        else:
            self.steps.around(
                "provider.charge",
                self.provider.charge,
                idempotency_key,
                message.amount_minor,
                attempt,
            )
