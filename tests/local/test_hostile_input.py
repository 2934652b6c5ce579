"""The hostile corpus through the real pipeline: local cloud, poller, the Lambda handler.

Originals first (drained), then every hostile case shuffled among valid transactions.
Each hostile message must reach the DLQ exactly once, body untouched, with its reason;
every valid transaction must be applied once; no invocation may fail.

Exactly once, not at least once: the README's one source of a second DLQ copy is a crash
between the DLQ send and the batch response, and nothing here injects crashes; the local
cloud serializes moto's requests, so one receive never hands a message to two pollers.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from exactly_once_local.moto_server import FAKE_CREDENTIALS, free_port
from pipeline.corpus import Corpus, HostileCase, ValidTransaction, build_corpus
from pipeline.local_cloud import LocalCloud, start_local_cloud
from pipeline.resources import scan_items

pytestmark = [pytest.mark.local, pytest.mark.slow]


@dataclass
class Run:
    cloud: LocalCloud
    corpus: Corpus
    sent: dict[str, ValidTransaction | HostileCase]  # by SQS message id
    dead: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    idempotency: list[dict[str, Any]]
    batch_lines: list[str]
    seconds: float


def _client(cloud: LocalCloud, service: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=cloud.endpoint_url,
        region_name=cloud.endpoint.region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


def _drain_dlq(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every dead letter, each received once (kept invisible for the rest of the test)."""
    messages: list[dict[str, Any]] = []
    empty_polls = 0
    while empty_polls < 3:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=600,
        ).get("Messages", [])
        messages.extend(batch)
        empty_polls = 0 if batch else empty_polls + 1
    return messages


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    lines: list[str] = []
    started = time.monotonic()
    cloud = start_local_cloud(free_port(), "dev", on_batch=lines.append)
    try:
        sqs = _client(cloud, "sqs")
        dynamodb = _client(cloud, "dynamodb")
        corpus = build_corpus(f"h{int(time.time())}")
        queue_url = cloud.outputs["QueueUrl"]
        sent: dict[str, ValidTransaction | HostileCase] = {}
        for original in corpus.originals:
            message_id = sqs.send_message(QueueUrl=queue_url, MessageBody=original.body)
            sent[message_id["MessageId"]] = original
        assert cloud.wait_until_empty(timeout_seconds=180), "originals not drained in 180 s"
        for message in corpus.mixed():
            message_id = sqs.send_message(QueueUrl=queue_url, MessageBody=message.body)
            sent[message_id["MessageId"]] = message
        assert cloud.wait_until_empty(timeout_seconds=180), "corpus not drained in 180 s"
        yield Run(
            cloud=cloud,
            corpus=corpus,
            sent=sent,
            dead=_drain_dlq(sqs, cloud.outputs["DeadLetterQueueUrl"]),
            ledger=list(scan_items(dynamodb, cloud.outputs["LedgerTableName"])),
            idempotency=list(scan_items(dynamodb, cloud.outputs["IdempotencyTableName"])),
            batch_lines=lines,
            seconds=time.monotonic() - started,
        )
    finally:
        cloud.stop()


def _attribute(message: dict[str, Any], name: str) -> str:
    return str(message.get("MessageAttributes", {}).get(name, {}).get("StringValue", ""))


def test_each_hostile_message_is_dead_lettered_once_with_its_reason(run: Run) -> None:
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in run.dead:
        by_source[_attribute(message, "exactly_once.source_message_id")].append(message)
    hostile = {mid: m for mid, m in run.sent.items() if isinstance(m, HostileCase)}
    assert len(hostile) == len(run.corpus.hostile)
    problems = []
    for message_id, case in hostile.items():
        copies = by_source.get(message_id, [])
        if len(copies) != 1:
            problems.append(f"{case.name}: {len(copies)} copies in the DLQ")
            continue
        [dead] = copies
        if dead["Body"] != case.body:
            problems.append(f"{case.name}: body changed")
        if _attribute(dead, "exactly_once.outcome") != case.outcome:
            problems.append(f"{case.name}: outcome {_attribute(dead, 'exactly_once.outcome')}")
        reason = _attribute(dead, "exactly_once.reason")
        if case.reason not in reason:
            problems.append(f"{case.name}: reason {reason[:200]!r} lacks {case.reason!r}")
    assert not problems, "\n".join(problems)
    # AND nothing else is in the DLQ: no valid transaction, nothing without our reason
    assert set(by_source) == set(hostile), set(by_source) ^ set(hostile)


def test_every_valid_transaction_is_applied_once(run: Run) -> None:
    balances = {
        (item["account_id"]["S"], item["currency"]["S"]): int(item["balance_minor"]["N"])
        for item in run.ledger
    }
    counts = {
        (item["account_id"]["S"], item["currency"]["S"]): int(item["transaction_count"]["N"])
        for item in run.ledger
    }
    assert balances == run.corpus.expected_balances()
    assert counts == run.corpus.expected_counts()
    # One record per unique valid transaction: hostile messages leave no record behind
    unique = {tx.transaction_id for tx in (*run.corpus.originals, *run.corpus.valid)}
    assert len(run.idempotency) == len(unique)


def test_no_invocation_failed_and_nothing_was_retried(run: Run) -> None:
    outcomes: Counter[str] = Counter()
    redelivered = 0
    for poller in run.cloud.pollers:
        outcomes.update(poller.stats.outcomes)
        redelivered += poller.stats.redelivered
    assert outcomes["function_error"] == 0, [line for line in run.batch_lines if "error" in line]
    assert outcomes["failed"] == 0 and outcomes["in_progress"] == 0, outcomes
    assert redelivered == 0
    hostile = Counter(case.outcome for case in run.corpus.hostile)
    assert outcomes["invalid"] == hostile["invalid"]
    assert outcomes["conflict"] == hostile["conflict"]
    assert outcomes["processed"] + outcomes["duplicate"] == len(run.corpus.originals) + len(
        run.corpus.valid
    )
    assert run.seconds < 45, f"took {run.seconds:.1f} s"
