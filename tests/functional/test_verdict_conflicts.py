"""The ledger verdict when an original and its conflicting variant race: the variant came
first (its original was moved to the DLQ by SQS and redriven later), so either body may
stand, once, with the other in the DLQ."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws

from pipeline.resources import LedgerResources, create_ledger_resources
from pipeline.verdict import judge
from pipeline.workload import Sent, Workload


def _sent(kind: str, cents: int) -> Sent:
    amount = f"{cents // 100}.{cents % 100:02d}"
    body = {"transaction_id": "t-1", "account_id": "a", "amount": amount, "currency": "EUR"}
    return Sent(json.dumps(body), kind, "t-1", "a", "EUR", cents)


ORIGINAL = _sent("original", 100)
VARIANT = _sent("conflict", 101)
WORKLOAD = Workload(waves=[[ORIGINAL], [], [VARIANT]])


@pytest.fixture
def ledger(aws: None) -> Iterator[LedgerResources]:
    with mock_aws():
        yield create_ledger_resources()


def _balance(ledger: LedgerResources, minor: int, count: int = 1) -> None:
    ledger.dynamodb.put_item(
        TableName=ledger.ledger_table,
        Item={
            "account_id": {"S": "a"},
            "currency": {"S": "EUR"},
            "balance_minor": {"N": str(minor)},
            "transaction_count": {"N": str(count)},
        },
    )


def _dead_letter(ledger: LedgerResources, body: str, reason: str | None) -> None:
    attributes = (
        {"exactly_once.reason": {"DataType": "String", "StringValue": reason}} if reason else {}
    )
    ledger.sqs.send_message(QueueUrl=ledger.dlq_url, MessageBody=body, MessageAttributes=attributes)


def _passed(ledger: LedgerResources) -> bool:
    verdict = judge(WORKLOAD, ledger.dynamodb, ledger.ledger_table, ledger.sqs, ledger.dlq_url)
    return verdict.passed


def test_the_original_first_and_its_variant_dead_lettered_passes(ledger: LedgerResources) -> None:
    _balance(ledger, 100)
    _dead_letter(ledger, VARIANT.body, "key reused with a different payload")
    assert _passed(ledger)


def test_the_variant_first_after_a_redriven_original_passes(ledger: LedgerResources) -> None:
    _balance(ledger, 101)
    _dead_letter(ledger, ORIGINAL.body, "key reused with a different payload")
    assert _passed(ledger)


def test_the_variant_first_while_the_original_sits_in_the_dlq_passes(
    ledger: LedgerResources,
) -> None:
    _balance(ledger, 101)
    _dead_letter(ledger, ORIGINAL.body, None)  # moved by SQS, never committed
    assert _passed(ledger)


def test_the_variant_applied_with_no_trace_of_the_original_fails(ledger: LedgerResources) -> None:
    _balance(ledger, 101)
    _dead_letter(ledger, VARIANT.body, "key reused with a different payload")
    assert not _passed(ledger)
