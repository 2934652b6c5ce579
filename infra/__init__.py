"""CDK constructs and stacks of the exactly-once pipeline. No runtime code is imported here."""

from __future__ import annotations

from .exactly_once_consumer import (
    DEFAULT_POWERTOOLS_LAYER_VERSION,
    OUTCOME_METRICS,
    ExactlyOnceConsumer,
    ExactlyOnceMode,
    GuaranteeViolation,
    InvalidConsumerSettings,
    powertools_layer_arn,
)
from .ledger_stack import FUNCTIONS_DIR, LedgerStack, OutputName

__all__ = [
    "DEFAULT_POWERTOOLS_LAYER_VERSION",
    "FUNCTIONS_DIR",
    "OUTCOME_METRICS",
    "ExactlyOnceConsumer",
    "ExactlyOnceMode",
    "GuaranteeViolation",
    "InvalidConsumerSettings",
    "LedgerStack",
    "OutputName",
    "powertools_layer_arn",
]
