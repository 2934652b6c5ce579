"""The fault hooks hit the calls they claim to: a harness that cannot fault proves nothing."""

from __future__ import annotations

import json
import random

import boto3
from aws_lambda_powertools import Logger, Metrics

from ledger.bootstrap import build_handler
from pipeline.events import lambda_record, sqs_event
from pipeline.faults import FaultCounts, FaultRates, inject_client_faults
from tests.support.aws import LedgerResources


def run_one(resources: LedgerResources, mode: str, rates: FaultRates) -> FaultCounts:
    client = boto3.client("dynamodb", region_name=resources.dynamodb.meta.region_name)
    counts = FaultCounts()
    inject_client_faults(
        client, rates, counts, random.Random(1), idempotency_table=resources.idempotency_table
    )
    handler = build_handler(
        resources.environ(EXACTLY_ONCE_MODE=mode),
        dynamodb=client,
        sqs=resources.sqs,
        logger=Logger(service="faults", level="ERROR"),
        metrics=Metrics(namespace="Test"),
    )
    body = json.dumps(
        {"transaction_id": f"t-{mode}", "account_id": "a", "amount": "1.00", "currency": "EUR"}
    )
    handler(sqs_event(lambda_record(body=body, queue_arn=resources.queue_arn)), None)
    return counts


def test_leased_stalls_only_before_the_effect_not_the_lease_or_completion(
    resources: LedgerResources,
) -> None:
    counts = run_one(resources, "leased", FaultRates(stall=1.0, stall_seconds=0))
    assert counts.stalls == 1  # the ledger UpdateItem; not the lease's nor the completion's


def test_atomic_stalls_before_the_transaction_and_conflicts_cancel_it(
    resources: LedgerResources,
) -> None:
    counts = run_one(
        resources, "atomic", FaultRates(stall=1.0, stall_seconds=0, transaction_conflict=1.0)
    )
    assert counts.stalls == 3 and counts.transaction_conflicts == 3  # three rounds, all cancelled
    assert resources.balance("a") == 0
