"""The deployed function's settings the cost figures describe, defined once for the bench.

They are the defaults of ``ExactlyOnceConsumer`` in ``exactly_once_cdk/consumer.py``
(``memory_size=512``, ``architecture=ARM_64``, ``source_retention`` 4 days,
``dead_letter_retention`` 14 days, ``redelivery_margin`` 1 day, ``idempotency_retention``
their sum, ``max_receive_count=5``). That module imports ``aws_cdk`` at import time, so the
bench copies the values here instead of importing them; ``tests/bench/test_deployment.py``
checks that they still match the construct.
"""

from __future__ import annotations

from typing import Any

DAY_SECONDS = 24 * 3600

LAMBDA_MEMORY_MB = 512  # ExactlyOnceConsumer(memory_size=512)
LAMBDA_ARCHITECTURE = "arm64"  # ExactlyOnceConsumer(architecture=None -> ARM_64, Graviton)

SOURCE_RETENTION_SECONDS = 4 * DAY_SECONDS  # source_retention default
DEAD_LETTER_RETENTION_SECONDS = 14 * DAY_SECONDS  # dead_letter_retention default
REDELIVERY_MARGIN_SECONDS = 1 * DAY_SECONDS  # redelivery_margin default
# idempotency_retention default: the redelivery window, 19 days = 1,641,600 s.
IDEMPOTENCY_RETENTION_SECONDS = (
    SOURCE_RETENTION_SECONDS + DEAD_LETTER_RETENTION_SECONDS + REDELIVERY_MARGIN_SECONDS
)
# max_receive_count default: receives before the source queue's redrive policy moves a
# message to the DLQ (what a message failed on every delivery costs, in the refusal row).
MAX_RECEIVE_COUNT = 5


def as_dict() -> dict[str, Any]:
    return {
        "source": "exactly_once_cdk/consumer.py, ExactlyOnceConsumer defaults",
        "lambda_memory_mb": LAMBDA_MEMORY_MB,
        "lambda_architecture": LAMBDA_ARCHITECTURE,
        "source_retention_seconds": SOURCE_RETENTION_SECONDS,
        "dead_letter_retention_seconds": DEAD_LETTER_RETENTION_SECONDS,
        "redelivery_margin_seconds": REDELIVERY_MARGIN_SECONDS,
        "idempotency_retention_seconds": IDEMPOTENCY_RETENTION_SECONDS,
        "max_receive_count": MAX_RECEIVE_COUNT,
    }
