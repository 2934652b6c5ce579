"""Lambda entry point of the baseline (``bench.baseline_handler.lambda_handler``).

The composition root, built like ``ledger.handler``: clients at cold start, reused while
warm, with the same Logger and Metrics, so the two imports differ only in the
idempotency machinery.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics

from bench.baseline import BaselineHandler

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "ledger-baseline"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ExactlyOnce"))
handle_batch = BaselineHandler(os.environ, dynamodb=boto3.client("dynamodb"))


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(event, context)
