"""The ``ExactlyOnceConsumer`` CDK construct: an SQS-triggered Lambda consumer, its DLQ and
its idempotency table, refusing at synth time any settings under which the exactly-once
guarantee would not hold. Installed with the ``[cdk]`` extra. No runtime code is imported
here: the function's own code is the ``exactly_once`` package.
"""

from __future__ import annotations

from .code import consumer_code, runtime_package_directory
from .consumer import (
    DEFAULT_POWERTOOLS_LAYER_VERSION,
    OUTCOME_METRICS,
    ExactlyOnceConsumer,
    ExactlyOnceMode,
    GuaranteeViolation,
    InvalidConsumerSettings,
    RedeliveryTimings,
    idempotency_table,
    powertools_layer_arn,
)

__all__ = [
    "DEFAULT_POWERTOOLS_LAYER_VERSION",
    "OUTCOME_METRICS",
    "ExactlyOnceConsumer",
    "ExactlyOnceMode",
    "GuaranteeViolation",
    "InvalidConsumerSettings",
    "RedeliveryTimings",
    "consumer_code",
    "idempotency_table",
    "powertools_layer_arn",
    "runtime_package_directory",
]
