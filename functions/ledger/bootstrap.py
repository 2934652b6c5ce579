"""Wiring of the ledger consumer: real adapters in Lambda, fakes or moto in tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from exactly_once import (
    AtomicConsumer,
    Clock,
    ConfigurationError,
    DeadLetterQueue,
    ExactlyOnceBatchHandler,
    ExactlyOnceConfig,
    LeasedConsumer,
    SystemClock,
    Telemetry,
)
from exactly_once.batch import Consumer

from .effects import LedgerAtomicEffect, LedgerLeasedEffect

MODES = ("atomic", "leased")


def build_handler(
    environ: Mapping[str, str],
    *,
    dynamodb: Any,
    sqs: Any,
    logger: Logger,
    metrics: Metrics,
    clock: Clock | None = None,
) -> ExactlyOnceBatchHandler:
    """The ledger's batch handler from its environment and clients."""
    config = ExactlyOnceConfig.from_env(environ)
    ledger_table = environ.get("LEDGER_TABLE_NAME", "").strip()
    if not ledger_table:
        raise ConfigurationError("environment variable LEDGER_TABLE_NAME is not set")
    mode = environ.get("EXACTLY_ONCE_MODE", "atomic").strip()
    clock = clock or SystemClock()
    consumer: Consumer
    if mode == "atomic":
        consumer = AtomicConsumer(
            config=config, client=dynamodb, effect=LedgerAtomicEffect(ledger_table), clock=clock
        )
    elif mode == "leased":
        consumer = LeasedConsumer(
            config=config,
            client=dynamodb,
            effect=LedgerLeasedEffect(dynamodb, ledger_table),
            clock=clock,
        )
    else:
        raise ConfigurationError(f"EXACTLY_ONCE_MODE must be one of {MODES}, got {mode!r}")
    return ExactlyOnceBatchHandler(
        consumer=consumer,
        dead_letters=DeadLetterQueue(sqs, config.dead_letter_queue_url),
        telemetry=Telemetry(logger, metrics),
    )
