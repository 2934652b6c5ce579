"""Faults injected from outside the consumer: around its clients, never inside its code."""

from __future__ import annotations

from pipeline.serialized import SerializedClient

__all__ = ["Crash", "SerializedClient", "SteppedClient", "Steps"]

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Crash(BaseException):
    """The process dies here (BaseException: no `except Exception` in the consumer stops it)."""


@dataclass
class Steps:
    """Counts the calls the consumer makes to its collaborators and crashes at a chosen boundary.

    Boundary n means "after n calls have completed, before call n+1 starts".
    """

    crash_at: int | None = None
    calls: list[str] = field(default_factory=list)

    def before(self, name: str) -> None:
        if self.crash_at is not None and len(self.calls) == self.crash_at:
            raise Crash(f"crash before call {len(self.calls) + 1} ({name})")

    def after(self, name: str) -> None:
        self.calls.append(name)

    def around(self, name: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.before(name)
        try:
            return call(*args, **kwargs)
        finally:
            self.after(name)  # a call that raised an AWS error still happened

    def lost_ack(self) -> None:
        """The invocation finished without crashing: at the last boundary, its response is lost."""
        if self.crash_at is not None and self.crash_at != len(self.calls):
            raise AssertionError(f"no call {self.crash_at + 1} to crash before: {self.calls}")


class SteppedClient:
    """A boto3 client whose every API call is a step of ``steps``."""

    def __init__(self, client: Any, steps: Steps, lock: threading.Lock | None = None) -> None:
        self._client = client
        self._steps = steps
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or not callable(attribute) or name in ("get_paginator", "meta"):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._lock is None:
                return self._steps.around(name, attribute, *args, **kwargs)
            with self._lock:
                return self._steps.around(name, attribute, *args, **kwargs)

        return call
