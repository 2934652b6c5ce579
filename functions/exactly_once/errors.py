"""One exception per failure mode of the exactly-once layer."""

from __future__ import annotations


class ExactlyOnceError(Exception):
    """Base class of every error this layer raises."""


class ConfigurationError(ExactlyOnceError):
    """The layer's configuration is missing a value or holds one that breaks the guarantee."""


class InvalidMessage(ExactlyOnceError):
    """The message cannot be processed as sent: not JSON, schema-invalid or without a key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(ExactlyOnceError):
    """The message must come back after the visibility timeout (reported as an item failure)."""


class LeaseLost(ExactlyOnceError):
    """Another invocation took over this record's lease: this one may not complete or release it."""
