"""Clients built on first use, for collaborators most invocations never call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class LazyClient:
    """Builds the client at its first call: creating a boto3 client costs about 30 ms.

    The ledger needs SQS only to dead-letter a message, which most batches never do, so
    its cold start should not pay for that client.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._factory()
        return getattr(self._client, name)
