"""The clock the protocol reads, injected so that time-dependent decisions are testable."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in seconds since the epoch (what DynamoDB TTL compares against)."""

    def now(self) -> float: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()


@dataclass
class ManualClock:
    """A clock that only moves when told to: for tests and the local cloud's time travel."""

    current: float = field(default=1_700_000_000.0)

    def now(self) -> float:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += seconds
