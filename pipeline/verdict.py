"""The exactly-once verdict, computed from the ledger table and the DLQ against the sent log."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pipeline.workload import Workload


@dataclass
class Verdict:
    """What the ledger holds against what the sent log says it must."""

    unique_sent: int
    applied: int
    dead_lettered: int
    dead_letter_reasons: dict[str, int]
    wrong_balances: list[str] = field(default_factory=list)
    applied_twice: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.wrong_balances or self.applied_twice or self.lost)


def scan_all(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def drain_dead_letters(sqs: Any, dlq_url: str) -> list[dict[str, Any]]:
    """Every DLQ message with its attributes (received and left in flight for 60 s)."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)


def reason_category(reason: str) -> str:
    """A short label for a DLQ reason, for the report's counts."""
    if reason.startswith("invalid transaction: "):
        return "invalid: " + reason.removeprefix("invalid transaction: ").split(":")[0]
    for marker, label in (
        ("not JSON", "invalid: not JSON"),
        ("not an object", "invalid: not an object"),
        ("key missing", "invalid: key missing"),
        ("key at", "invalid: key unusable"),
        ("different payload", "conflict: key reused with another payload"),
    ):
        if marker in reason:
            return label
    return reason[:60]


def judge(workload: Workload, dynamodb: Any, ledger_table: str, sqs: Any, dlq_url: str) -> Verdict:
    """Every balance equals its account's unique valid transactions, each applied once."""
    expected = workload.expected_balances()
    actual: dict[tuple[str, str], tuple[int, int]] = {}
    for item in scan_all(dynamodb, ledger_table):
        key = (item["account_id"]["S"], item["currency"]["S"])
        actual[key] = (int(item["balance_cents"]["N"]), int(item["transaction_count"]["N"]))
    dead = drain_dead_letters(sqs, dlq_url)
    reasons: Counter[str] = Counter(
        reason_category(
            m.get("MessageAttributes", {})
            .get("exactly_once.reason", {})
            .get("StringValue", "no reason (moved by SQS after maxReceiveCount)")
        )
        for m in dead
    )
    verdict = Verdict(
        unique_sent=workload.unique_transactions(),
        applied=sum(count for _, count in actual.values()),
        dead_lettered=len(dead),
        dead_letter_reasons=dict(reasons),
    )
    for key in sorted(set(expected) | set(actual)):
        want_cents, want_count = expected.get(key, (0, 0))
        got_cents, got_count = actual.get(key, (0, 0))
        label = f"{key[0]}/{key[1]}"
        if got_count > want_count:
            verdict.applied_twice.append(f"{label}: {got_count} applied, {want_count} sent")
        elif got_count < want_count:
            verdict.lost.append(f"{label}: {got_count} applied, {want_count} sent")
        if got_cents != want_cents:
            verdict.wrong_balances.append(f"{label}: balance {got_cents}, expected {want_cents}")
    missing_dead = workload.expected_dead_letters() - len(dead)
    if missing_dead > 0:
        verdict.lost.append(f"{missing_dead} invalid or conflicting messages missing from the DLQ")
    return verdict
