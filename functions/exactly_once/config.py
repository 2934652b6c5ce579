"""The layer's configuration, read once per container from the function's environment."""

from __future__ import annotations

import math
from collections.abc import Mapping

from .errors import ConfigurationError
from .keys import KeySpec
from .values import Value

DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600
DEFAULT_MAX_LEASE_SECONDS = 900.0
MAX_SECONDS = 10 * 365 * 24 * 3600  # a sanity bound on any duration


class ExactlyOnceConfig(Value):
    """Where records live, how keys are found, how long they protect a key."""

    table_name: str
    key: KeySpec
    dead_letter_queue_url: str
    retention_seconds: int = DEFAULT_RETENTION_SECONDS
    max_lease_seconds: float = DEFAULT_MAX_LEASE_SECONDS

    def __post_init__(self) -> None:
        if self.retention_seconds <= 0:
            raise ConfigurationError("IDEMPOTENCY_RETENTION_SECONDS must be a positive number")
        if self.max_lease_seconds <= 0:
            raise ConfigurationError("LEASE_MAX_SECONDS must be a positive number")
        if self.max_lease_seconds >= self.retention_seconds:
            raise ConfigurationError(
                "LEASE_MAX_SECONDS must be shorter than IDEMPOTENCY_RETENTION_SECONDS"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ExactlyOnceConfig:
        """Read the variables the CDK construct sets; a missing one is named in the error."""

        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise ConfigurationError(f"environment variable {name} is not set")
            return value

        def number(name: str, default: float) -> float:
            raw = environ.get(name)
            if raw is None or not raw.strip():
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
            if not math.isfinite(value) or value > MAX_SECONDS:
                raise ConfigurationError(f"{name} must be a finite number of seconds, got {raw!r}")
            return value

        return cls(
            table_name=required("IDEMPOTENCY_TABLE_NAME"),
            key=KeySpec(
                prefix=required("IDEMPOTENCY_KEY_PREFIX"), path=required("IDEMPOTENCY_KEY_PATH")
            ),
            dead_letter_queue_url=required("DEAD_LETTER_QUEUE_URL"),
            retention_seconds=int(
                number("IDEMPOTENCY_RETENTION_SECONDS", DEFAULT_RETENTION_SECONDS)
            ),
            max_lease_seconds=number("LEASE_MAX_SECONDS", DEFAULT_MAX_LEASE_SECONDS),
        )
