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


class Refused(ExactlyOnceError):
    """The effect says no to this one message ("out of stock"): dead-lettered with the reason.

    Raise it from an effect (``writes`` in atomic mode, ``apply`` in leased mode). Nothing is
    recorded for the key, so a redrive after the cause is fixed is evaluated again; the other
    messages of the batch are not affected.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(ExactlyOnceError):
    """The message must come back after the visibility timeout (reported as an item failure)."""


class LeaseLost(ExactlyOnceError):
    """Another invocation took over this record's lease: this one may not complete or release it."""
