"""Exactly-once processing for SQS-triggered Lambda functions.

SQS delivers at least once; this layer makes each message's effect happen once, keyed by a
producer-assigned idempotency key recorded in DynamoDB for a bounded retention.
"""

from __future__ import annotations

from .atomic import AtomicConsumer, AtomicEffect
from .batch import ExactlyOnceBatchHandler
from .clock import Clock, ManualClock, SystemClock
from .config import ExactlyOnceConfig
from .dead_letters import DeadLetterQueue
from .errors import (
    ConfigurationError,
    ExactlyOnceError,
    InvalidMessage,
    LeaseLost,
    RetryLater,
)
from .keys import KeySpec
from .leased import LeasedConsumer, LeasedEffect
from .messages import Decision
from .outcomes import Outcome
from .records import IdempotencyRecord, RecordStatus
from .store import IdempotencyStore
from .telemetry import Telemetry

__all__ = [
    "AtomicConsumer",
    "AtomicEffect",
    "Clock",
    "ConfigurationError",
    "DeadLetterQueue",
    "Decision",
    "ExactlyOnceBatchHandler",
    "ExactlyOnceConfig",
    "ExactlyOnceError",
    "IdempotencyRecord",
    "IdempotencyStore",
    "InvalidMessage",
    "KeySpec",
    "LeaseLost",
    "LeasedConsumer",
    "LeasedEffect",
    "ManualClock",
    "Outcome",
    "RecordStatus",
    "RetryLater",
    "SystemClock",
    "Telemetry",
]
