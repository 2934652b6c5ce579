"""Lambda entry point of the ledger consumer (``ledger.handler.lambda_handler``).

The composition root: clients are built once per container, at cold start, and reused
while the container is warm.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics

from exactly_once.clients import LazyClient

from .bootstrap import build_handler

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "ledger"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ExactlyOnce"))
dynamodb = boto3.client("dynamodb")
handle_batch = build_handler(
    os.environ,
    dynamodb=dynamodb,
    sqs=LazyClient(lambda: boto3.client("sqs")),
    logger=logger,
    metrics=metrics,
)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(event, context)
