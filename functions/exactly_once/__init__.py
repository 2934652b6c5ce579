"""Exactly-once processing for SQS-triggered Lambda functions.

SQS delivers at least once; this layer makes each message's effect happen once, keyed by a
producer-assigned idempotency key recorded in DynamoDB for a bounded retention.

Start with ``make_handler``: write the effect (``parse`` and ``writes`` with ``Add``,
``Take``, ``PutIfAbsent``; or ``parse`` and ``apply`` for effects outside DynamoDB), and::

    lambda_handler = make_handler(MyEffect)
"""

from __future__ import annotations

from .atomic import AtomicConsumer, AtomicEffect
from .batch import ExactlyOnceBatchHandler
from .clock import Clock, ManualClock, SystemClock
from .config import ExactlyOnceConfig
from .dead_letters import DeadLetterQueue
from .downstream import Downstream
from .errors import (
    ConfigurationError,
    ExactlyOnceError,
    InvalidMessage,
    LeaseLost,
    Refused,
    RetryLater,
)
from .handler import ExactlyOnceHandler, Setup, make_handler
from .keys import KeySpec
from .leased import LeasedConsumer, LeasedEffect
from .messages import Decision
from .outcomes import Outcome
from .records import IdempotencyRecord, RecordStatus
from .store import IdempotencyStore
from .telemetry import Telemetry
from .writes import Add, PutIfAbsent, Take, TransactItem, Write

__all__ = [
    "Add",
    "AtomicConsumer",
    "AtomicEffect",
    "Clock",
    "ConfigurationError",
    "DeadLetterQueue",
    "Decision",
    "Downstream",
    "ExactlyOnceBatchHandler",
    "ExactlyOnceConfig",
    "ExactlyOnceError",
    "ExactlyOnceHandler",
    "IdempotencyRecord",
    "IdempotencyStore",
    "InvalidMessage",
    "KeySpec",
    "LeaseLost",
    "LeasedConsumer",
    "LeasedEffect",
    "ManualClock",
    "Outcome",
    "PutIfAbsent",
    "RecordStatus",
    "Refused",
    "RetryLater",
    "Setup",
    "SystemClock",
    "Take",
    "Telemetry",
    "TransactItem",
    "Write",
    "make_handler",
]
