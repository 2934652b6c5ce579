"""The clock the protocol reads, injected so that time-dependent decisions are testable."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in seconds since the epoch (what DynamoDB TTL compares against)."""

    def now(self) -> float: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to: for tests and the local cloud's time travel."""

    def __init__(self, current: float = 1_700_000_000.0) -> None:
        self.current = current

    def __repr__(self) -> str:
        return f"ManualClock(current={self.current!r})"

    def now(self) -> float:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += seconds
