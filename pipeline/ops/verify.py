"""`pipeline verify --sent-log FILE`: the ledger against what was sent, every mismatch listed.

Ledger-specific: the chosen consumer must be a ledger (its function has
``LEDGER_TABLE_NAME``, the ledger table it reads); any other is refused in one line.

The sent log is the oracle. Per transaction id its first entry is the payload that must
be applied; a later entry with the same payload is a resend (no second effect) and one
with another payload a conflict (dead-lettered, not applied). Checked:

- each (account, currency) balance and transaction count equals the sum of the first
  entries' amounts (in the currency's minor units, as the ledger stores them) and their
  number;
- each transaction has a COMPLETED idempotency record with the first entry's payload hash.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pipeline.ops.dlq import queue_depth
from pipeline.ops.errors import BadInput, ExitCode
from pipeline.ops.inspect import record_id_for
from pipeline.ops.send import iter_sent_log
from pipeline.ops.targets import Target

_BATCH_GET = 100  # BatchGetItem's limit


@dataclass(frozen=True)
class Expected:
    transaction_id: str
    account_id: str
    currency: str
    amount_minor: int  # in the currency's minor units (ISO 4217)
    payload_hash: str
    line: int


@dataclass
class SentLogSummary:
    first: dict[str, Expected] = field(default_factory=dict)
    resends: int = 0
    conflicts: int = 0
    lines: int = 0


def read_sent_log(path: str) -> SentLogSummary:
    from exactly_once.errors import InvalidMessage
    from exactly_once.keys import decode_body, payload_hash
    from ledger.effects import payload_of
    from ledger.model import parse_transaction

    summary = SentLogSummary()
    for number, entry in iter_sent_log(path):
        summary.lines += 1
        try:
            # The sent log holds what was sent: transactions the ledger accepts (pipeline
            # send checks each first). The hash is the one the ledger stores, of the
            # transaction's meaning.
            transaction = parse_transaction(decode_body(entry["body"]))
            digest = payload_hash(payload_of(transaction))
            transaction_id = transaction.transaction_id
            expected = Expected(
                transaction_id=transaction_id,
                account_id=transaction.account_id,
                currency=transaction.currency,
                amount_minor=transaction.amount_minor,
                payload_hash=digest,
                line=number,
            )
        except (InvalidMessage, KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"{path}: line {number} is not a ledger transaction ({exc})") from None
        known = summary.first.get(transaction_id)
        if known is None:
            summary.first[transaction_id] = expected
        elif known.payload_hash == digest:
            summary.resends += 1
        else:
            summary.conflicts += 1
    return summary


def expected_balances(summary: SentLogSummary) -> dict[tuple[str, str], tuple[int, int]]:
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for expected in summary.first.values():
        total = totals[(expected.account_id, expected.currency)]
        total[0] += expected.amount_minor
        total[1] += 1
    return {key: (minor, count) for key, (minor, count) in totals.items()}


def _in_major(minor: int, currency: str) -> str:
    """``minor`` units of ``currency`` written in its major unit, e.g. ``"5.00 EUR"``."""
    from ledger.currencies import MINOR_UNITS

    places = MINOR_UNITS.get(currency, 0)
    sign, digits = ("-" if minor < 0 else ""), str(abs(minor)).rjust(places + 1, "0")
    whole, fraction = digits[: len(digits) - places], digits[len(digits) - places :]
    return f"{sign}{whole}{'.' if places else ''}{fraction} {currency}"


def fetch_records(dynamodb: Any, table: str, record_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Record id -> item, for those that exist (consistent reads, unprocessed keys retried)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(record_ids), _BATCH_GET):
        request: dict[str, Any] = {
            table: {
                "Keys": [{"id": {"S": rid}} for rid in record_ids[start : start + _BATCH_GET]],
                "ConsistentRead": True,
            }
        }
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                found[item["id"]["S"]] = item
            request = response.get("UnprocessedKeys") or {}
    return found


def compare(
    summary: SentLogSummary,
    balances: dict[tuple[str, str], tuple[int, int]],
    records: dict[str, dict[str, Any]],
    record_ids: dict[str, str],
    *,
    only_logged_accounts: bool,
) -> list[str]:
    """Every mismatch, one line each, balances first."""
    mismatches: list[str] = []
    expected = expected_balances(summary)
    keys = set(expected) if only_logged_accounts else set(expected) | set(balances)
    for account, currency in sorted(keys):
        want_minor, want_count = expected.get((account, currency), (0, 0))
        got_minor, got_count = balances.get((account, currency), (0, 0))
        label = f"balance {account}/{currency}"
        if (account, currency) not in expected:
            mismatches.append(
                f"{label}: in the ledger ({got_count} transactions) but not in the sent log"
            )
            continue
        if got_count != want_count:
            what = "applied twice or from elsewhere" if got_count > want_count else "missing"
            mismatches.append(
                f"{label}: {got_count} transactions applied, {want_count} sent ({what})"
            )
        if got_minor != want_minor:
            mismatches.append(
                f"{label}: {got_minor} minor units ({_in_major(got_minor, currency)}), "
                f"expected {want_minor} ({_in_major(want_minor, currency)})"
            )
    for transaction_id, first in sorted(summary.first.items()):
        item = records.get(record_ids[transaction_id])
        where = f"transaction {transaction_id} (sent-log line {first.line})"
        if item is None:
            mismatches.append(f"{where}: no idempotency record (not processed, or still queued)")
            continue
        status = item.get("status", {}).get("S", "")
        digest = item.get("payload_hash", {}).get("S", "")
        if status != "COMPLETED":
            mismatches.append(f"{where}: record is {status}, not COMPLETED")
        if digest != first.payload_hash:
            mismatches.append(f"{where}: applied with another payload than the sent log's first")
    return mismatches


def run_verify(args: argparse.Namespace) -> int:
    from pipeline.verdict import ledger_balances

    summary = read_sent_log(args.sent_log)
    target = Target.from_args(args)
    ledger_table = target.ledger_table_name("verify")
    dynamodb = target.client("dynamodb")
    record_ids = {tid: record_id_for(target, tid) for tid in summary.first}
    records = fetch_records(
        dynamodb, target.consumer.idempotency_table_name, sorted(set(record_ids.values()))
    )
    balances = ledger_balances(dynamodb, ledger_table)  # (minor units, count) per balance
    mismatches = compare(
        summary,
        balances,
        records,
        record_ids,
        only_logged_accounts=args.only_logged_accounts,
    )
    visible, in_flight = queue_depth(target.client("sqs"), target.consumer.queue_url)
    print(
        f"sent log {args.sent_log}: {summary.lines} messages, {len(summary.first)} transactions "
        f"({summary.resends} resends, {summary.conflicts} conflicting resends)"
    )
    if visible or in_flight:
        print(
            f"note: the queue still holds {visible} waiting and {in_flight} in flight: "
            "mismatches may only be work not done yet"
        )
    for line in mismatches:
        print(f"MISMATCH {line}")
    if mismatches:
        print(f"FAIL: {len(mismatches)} mismatches")
        return ExitCode.MISMATCH
    print(f"OK: the ledger holds each of the {len(summary.first)} transactions exactly once")
    return ExitCode.OK
