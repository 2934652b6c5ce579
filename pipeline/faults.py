"""Faults injected around the consumer (its clients and its invocation), never inside it."""

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
    """Probabilities per invocation (crashes, lost responses) or per DynamoDB write (throttling)."""

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


_EFFECT_CALLS = frozenset({"transact_write_items", "put_item", "update_item"})


class FaultyDynamoDB:
    """A DynamoDB client that sometimes throttles, or crashes the process around a write."""

    def __init__(
        self, client: Any, rates: FaultRates, counts: FaultCounts, rng: random.Random
    ) -> None:
        self._client = client
        self._rates = rates
        self._counts = counts
        self._rng = rng

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in _EFFECT_CALLS:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            roll = self._rng.random()
            if roll < self._rates.throttle:
                self._counts.add("throttled")
                raise ClientError(
                    {
                        "Error": {
                            "Code": "ProvisionedThroughputExceededException",
                            "Message": "injected throttling",
                        }
                    },
                    name,
                )
            if self._rng.random() < self._rates.crash_before_effect:
                self._counts.add("crashes_before_effect")
                raise InjectedCrash(f"before {name}")
            result = attribute(*args, **kwargs)
            if self._rng.random() < self._rates.crash_after_effect:
                self._counts.add("crashes_after_effect")
                raise InjectedCrash(f"after {name}")
            return result

        return call
