"""The exactly-once verdict, computed from the ledger table and the DLQ against the sent log."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from pipeline.resources import scan_items
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
    # Balances whose surplus is explained by repeats the caller expected (leased mode:
    # transactions whose lease was taken over), with the transactions' causes.
    explained_repeats: list[str] = field(default_factory=list)
    repeats: int = 0
    # Transactions whose deliveries all failed: SQS moved them to the DLQ (applied or not).
    unsettled: int = 0

    @property
    def passed(self) -> bool:
        return not (self.wrong_balances or self.applied_twice or self.lost)


# Received dead letters stay in flight this long (SQS's maximum, 12 hours): a drain that
# outlasts a shorter one would meet its first messages again and never end.
DRAIN_VISIBILITY_SECONDS = 43_200


def drain_dead_letters(sqs: Any, dlq_url: str) -> list[dict[str, Any]]:
    """Every DLQ message with its attributes, each once (received and left in flight)."""
    messages: dict[str, dict[str, Any]] = {}
    while True:
        batch = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=DRAIN_VISIBILITY_SECONDS,
        ).get("Messages", [])
        new = [m for m in batch if m["MessageId"] not in messages]
        if not new:
            return list(messages.values())
        messages.update((m["MessageId"], m) for m in new)


def reason_category(reason: str) -> str:
    """A short label for a DLQ reason, for the report's counts."""
    if reason.startswith("invalid transaction: "):
        return "invalid: " + reason.removeprefix("invalid transaction: ").split(":")[0]
    if reason == SQS_MOVED:
        return "failed deliveries: " + SQS_MOVED
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


SQS_MOVED = "moved by SQS after maxReceiveCount"
MAX_UNSETTLED_PER_BALANCE = 16  # subsets checked exhaustively below this


def _reason_of(message: dict[str, Any]) -> str:
    attribute = message.get("MessageAttributes", {}).get("exactly_once.reason", {})
    return str(attribute.get("StringValue", SQS_MOVED))


def body_field(body: str, name: str) -> str | None:
    """The string member ``name`` of a JSON object body; None for anything else."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    value = document.get(name) if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def _explained(
    got: tuple[int, int], base: tuple[int, int], unsettled: list[tuple[int, ...]]
) -> bool:
    """Whether some of the unsettled transactions, each once and each with one of its
    possible amounts, make up the difference."""
    extra_minor, extra_count = got[0] - base[0], got[1] - base[1]
    if not 0 <= extra_count <= len(unsettled):
        return False
    if len(unsettled) > MAX_UNSETTLED_PER_BALANCE:
        return False
    return any(
        sum(amounts) == extra_minor
        for subset in itertools.combinations(unsettled, extra_count)
        for amounts in itertools.product(*subset)
    )


def ledger_balances(dynamodb: Any, ledger_table: str) -> dict[tuple[str, str], tuple[int, int]]:
    """Each (account, currency) balance of the ledger table: (amount in the currency's minor
    units, transactions applied). The one place that reads the ledger's storage format
    (``balance_minor`` and ``transaction_count``, see ``ledger.effects``)."""
    from ledger.effects import BALANCE, TRANSACTIONS

    actual: dict[tuple[str, str], tuple[int, int]] = {}
    for item in scan_items(dynamodb, ledger_table):
        key = (item["account_id"]["S"], item["currency"]["S"])
        actual[key] = (int(item[BALANCE]["N"]), int(item[TRANSACTIONS]["N"]))
    return actual


def judge(
    workload: Workload,
    dynamodb: Any,
    ledger_table: str,
    sqs: Any,
    dlq_url: str,
    *,
    may_repeat: dict[str, tuple[int, str]] | None = None,
) -> Verdict:
    """Every balance equals its account's unique valid transactions, each applied once.

    ``may_repeat`` names transactions that may have been applied more than once: how many
    extra times at most, and why (leased mode: each takeover of an expired lease);
    a surplus they explain is reported in ``explained_repeats``, any other is a failure.

    A transaction with a copy that SQS itself moved to the DLQ (after maxReceiveCount
    failed deliveries) is not lost, it sits in the DLQ; it may or may not have been
    applied (a crash after the commit fails the delivery too). Its balance passes if some
    subset of those transactions, each applied once, explains it exactly.
    """
    actual = ledger_balances(dynamodb, ledger_table)
    dead = drain_dead_letters(sqs, dlq_url)
    moved_by_sqs = {
        tx
        for m in dead
        if _reason_of(m) == SQS_MOVED and (tx := body_field(m["Body"], "transaction_id"))
    }
    # A conflicting variant goes out after its original is settled; but an original that
    # SQS moved to the DLQ was never committed, so the variant is then the first of its
    # key: it is applied and the original, redriven later, is the conflict. Either body
    # may stand; the other must be in the DLQ.
    variants = {s.transaction_id: s for s in workload.sends if s.kind == "conflict"}
    originals = {s.transaction_id: s for s in workload.sends if s.kind == "original"}
    swapped = {
        tx
        for m in dead
        if "different payload" in _reason_of(m)
        and (tx := body_field(m["Body"], "transaction_id")) in variants
        and tx in originals
        and m["Body"] == originals[tx].body
    }
    base: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    unsettled: dict[tuple[str, str], list[tuple[int, ...]]] = defaultdict(list)
    repeatable: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for sent in workload.sends:
        if sent.kind != "original" or not (sent.account_id and sent.currency):
            continue
        key = (sent.account_id, sent.currency)
        amount = (
            variants[sent.transaction_id].amount_cents
            if sent.transaction_id in swapped
            else sent.amount_cents
        )
        if sent.transaction_id in moved_by_sqs:
            variant = variants.get(sent.transaction_id)
            choices = (amount,) if variant is None else (amount, variant.amount_cents)
            unsettled[key].append(choices)
        else:
            base[key][0] += amount
            base[key][1] += 1
        if may_repeat and sent.transaction_id in may_repeat:
            extra, cause = may_repeat[sent.transaction_id]
            for _ in range(extra):
                repeatable[key].append((sent.amount_cents, f"{sent.transaction_id}: {cause}"))
    verdict = Verdict(
        unique_sent=workload.unique_transactions(),
        applied=sum(count for _, count in actual.values()),
        dead_lettered=len(dead),
        dead_letter_reasons=dict(Counter(reason_category(_reason_of(m)) for m in dead)),
    )
    for key in sorted(set(base) | set(unsettled) | set(actual)):
        want = (base[key][0], base[key][1]) if key in base else (0, 0)
        got = actual.get(key, (0, 0))
        label = f"{key[0]}/{key[1]}"
        if _explained(got, want, unsettled.get(key, [])):
            continue
        repeats = repeatable.get(key, [])
        candidates = unsettled.get(key, []) + [(minor,) for minor, _ in repeats]
        if _explained(got, want, candidates):
            surplus = got[1] - want[1] - len(unsettled.get(key, []))
            verdict.repeats += max(surplus, 0)
            causes = "; ".join(dict.fromkeys(cause for _, cause in repeats))
            verdict.explained_repeats.append(
                f"{label}: {got[1]} applied, {want[1]} sent ({causes})"
            )
            continue
        ceiling = want[1] + len(unsettled.get(key, []))
        if got[1] > ceiling:
            verdict.applied_twice.append(f"{label}: {got[1]} applied, at most {ceiling} sent")
        elif got[1] < want[1]:
            verdict.lost.append(f"{label}: {got[1]} applied, {want[1]} sent and not dead-lettered")
        else:
            verdict.wrong_balances.append(
                f"{label}: balance {got[0]} ({got[1]} applied) matches no set of its transactions"
            )
    # Every invalid or conflicting body sent must be in the DLQ, with a reason, at least as
    # often as it was sent (a crash after the DLQ send may add a copy, never remove one).
    expected_dead = Counter(
        originals[s.transaction_id].body if s.transaction_id in swapped else s.body
        for s in workload.sends
        if s.kind == "invalid" or (s.kind == "conflict" and s.transaction_id not in moved_by_sqs)
    )
    present = Counter(m["Body"] for m in dead if _reason_of(m) != SQS_MOVED)
    missing = expected_dead - present
    if missing:
        verdict.lost.append(
            f"{sum(missing.values())} invalid or conflicting messages missing from the DLQ"
        )
    verdict.unsettled = sum(len(amounts) for amounts in unsettled.values())
    return verdict
