"""One lock around each request to moto, which (unlike AWS) is not atomic under concurrency.

Measured here (docs/local-cloud.md): in-process moto lost ADD updates and gave conditional
puts two winners under threads. With every request under one lock, a concurrent run on moto
means what it would on AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class SerializedClient:
    """A boto3 client whose every API call holds ``lock``; ``before`` runs outside it."""

    def __init__(
        self,
        client: Any,
        lock: threading.Lock,
        before: Callable[[str], None] = lambda name: None,
    ) -> None:
        self._client = client
        self._lock = lock
        self._before = before

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self._before(name)
            with self._lock:
                return attribute(*args, **kwargs)

        return call
