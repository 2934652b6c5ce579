"""Faults injected around the consumer (its AWS clients and its invocation), never inside it.

Client faults are botocore event hooks on the consumer's own DynamoDB client: the code
under test runs unchanged and sees what it would see from AWS (a throttling error) or
simply stops (a crash before or after a write reached DynamoDB).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError


class InjectedCrash(BaseException):
    """The process dies mid-invocation (a BaseException: the code under test catches none)."""


@dataclass(frozen=True)
class FaultRates:
    """Probabilities per DynamoDB write (crashes, throttling) or per invocation (lost response)."""

    crash_before_effect: float = 0.0
    crash_after_effect: float = 0.0
    lost_response: float = 0.0
    throttle: float = 0.0

    @classmethod
    def demo(cls) -> FaultRates:
        return cls(
            crash_before_effect=0.03, crash_after_effect=0.03, lost_response=0.03, throttle=0.03
        )


@dataclass
class FaultCounts:
    crashes_before_effect: int = 0
    crashes_after_effect: int = 0
    lost_responses: int = 0
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


# The writes that carry an effect or a record, in either mode.
EFFECT_OPERATIONS = ("TransactWriteItems", "PutItem", "UpdateItem")


def inject_client_faults(
    dynamodb: Any, rates: FaultRates, counts: FaultCounts, rng: random.Random
) -> None:
    """Register throttling and crash hooks on a boto3 DynamoDB client's write calls."""

    def before(model: Any, **_: Any) -> None:
        if rng.random() < rates.throttle:
            counts.add("throttled")
            raise ClientError(
                {
                    "Error": {
                        "Code": "ProvisionedThroughputExceededException",
                        "Message": "injected throttling",
                    }
                },
                model.name,
            )
        if rng.random() < rates.crash_before_effect:
            counts.add("crashes_before_effect")
            raise InjectedCrash(f"before {model.name}")

    def after(model: Any, **_: Any) -> None:
        if rng.random() < rates.crash_after_effect:
            counts.add("crashes_after_effect")
            raise InjectedCrash(f"after {model.name}")

    events = dynamodb.meta.events
    for operation in EFFECT_OPERATIONS:
        events.register(f"before-call.dynamodb.{operation}", before)
        events.register(f"after-call.dynamodb.{operation}", after)
