"""The ``ExactlyOnceConsumer`` CDK construct: an SQS-triggered Lambda consumer, its DLQ and
its idempotency table, refusing at synth time any settings under which the exactly-once
guarantee would not hold. Installed with the ``[cdk]`` extra. No runtime code is imported
here: the installed ``exactly_once`` package ships, as files, in the construct's own
Lambda layer.
"""

from __future__ import annotations

from .code import consumer_code, runtime_package_directory
from .consumer import (
    DEFAULT_POWERTOOLS_VERSION,
    DEFAULT_RUNTIME,
    OUTCOME_METRICS,
    POWERTOOLS_LAYER_PARAMETER,
    SUPPORTED_RUNTIMES,
    ExactlyOnceConsumer,
    ExactlyOnceMode,
    GuaranteeViolation,
    InvalidConsumerSettings,
    RedeliveryTimings,
    idempotency_table,
    powertools_layer_parameter,
)

__all__ = [
    "DEFAULT_POWERTOOLS_VERSION",
    "DEFAULT_RUNTIME",
    "OUTCOME_METRICS",
    "POWERTOOLS_LAYER_PARAMETER",
    "SUPPORTED_RUNTIMES",
    "ExactlyOnceConsumer",
    "ExactlyOnceMode",
    "GuaranteeViolation",
    "InvalidConsumerSettings",
    "RedeliveryTimings",
    "consumer_code",
    "idempotency_table",
    "powertools_layer_parameter",
    "runtime_package_directory",
]
