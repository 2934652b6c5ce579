"""Exactly-once processing for SQS-triggered Lambda functions.

SQS delivers at least once; this layer makes each message's effect happen once, keyed by a
producer-assigned idempotency key recorded in DynamoDB for a bounded retention.

Start with ``make_handler``: write the effect (``parse`` and ``writes`` with ``Add``,
``Take``, ``PutIfAbsent``; or ``parse`` and ``apply`` for effects outside DynamoDB), and::

    lambda_handler = make_handler(MyEffect)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from .values import Value
    from .writes import Add, PutIfAbsent, Take, TransactItem, Write

# Each public name's module, imported when the name is first used (PEP 562): an atomic
# consumer never loads the leased mode, and a Lambda cold start pays for what it uses.
_HOMES = {
    "Add": "writes",
    "AtomicConsumer": "atomic",
    "AtomicEffect": "atomic",
    "Clock": "clock",
    "ConfigurationError": "errors",
    "DeadLetterQueue": "dead_letters",
    "Decision": "messages",
    "Downstream": "downstream",
    "ExactlyOnceBatchHandler": "batch",
    "ExactlyOnceConfig": "config",
    "ExactlyOnceError": "errors",
    "ExactlyOnceHandler": "handler",
    "IdempotencyRecord": "records",
    "IdempotencyStore": "store",
    "InvalidMessage": "errors",
    "KeySpec": "keys",
    "LeaseLost": "errors",
    "LeasedConsumer": "leased",
    "LeasedEffect": "leased",
    "ManualClock": "clock",
    "Outcome": "outcomes",
    "PutIfAbsent": "writes",
    "RecordStatus": "records",
    "Refused": "errors",
    "RetryLater": "errors",
    "Setup": "handler",
    "SystemClock": "clock",
    "Take": "writes",
    "Telemetry": "telemetry",
    "TransactItem": "writes",
    "Value": "values",
    "Write": "writes",
    "make_handler": "handler",
}


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
    "Value",
    "Write",
    "make_handler",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
