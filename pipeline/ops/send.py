"""`pipeline send`: transactions onto a ledger consumer's queue, in tens, with a sent log.

Ledger-specific: the chosen consumer must be a ledger (its function has
``LEDGER_TABLE_NAME``); any other is refused in one line before anything is read or sent.

The input is a JSON Lines file (one ledger transaction per line) or a seeded generated
workload. Each line is checked as the consumer will check it; a bad line is reported by
number and skipped, the good ones are sent. Every message sent is appended to the sent
log (JSON Lines), which ``pipeline verify`` compares with the ledger.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pipeline.ops.errors import BadInput, ExitCode, OpsError
from pipeline.ops.targets import Target
from pipeline.progress import ProgressBar

BATCH = 10  # SendMessageBatch's limit
ATTEMPTS = 5  # per entry that SQS reports failed (not the SDK's own retries)


@dataclass(frozen=True)
class Outgoing:
    """One transaction to send: its body as given, and where it came from."""

    source: str  # "FILE:LINE" or "generated:N"
    body: str
    transaction_id: str
    account_id: str
    currency: str
    amount: str


@dataclass(frozen=True)
class BadLine:
    number: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.number}: {self.reason}"


def check_body(body: str, source: str) -> Outgoing:
    """The body as a ledger transaction, or ValueError with the consumer's own reason."""
    from exactly_once.errors import InvalidMessage
    from exactly_once.keys import decode_body
    from ledger.model import parse_transaction

    try:
        transaction = parse_transaction(decode_body(body))
    except InvalidMessage as exc:
        raise ValueError(str(exc)) from None
    return Outgoing(
        source=source,
        body=body,
        transaction_id=transaction.transaction_id,
        account_id=transaction.account_id,
        currency=transaction.currency,
        amount=transaction.amount,
    )


def read_transactions(lines: Iterable[str], name: str) -> tuple[list[Outgoing], list[BadLine]]:
    """Good transactions and bad lines (by number, 1-based) of a JSON Lines text."""
    good: list[Outgoing] = []
    bad: list[BadLine] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            good.append(check_body(text, f"{name}:{number}"))
        except ValueError as exc:
            bad.append(BadLine(number, str(exc)))
    return good, bad


def read_file(path: str) -> tuple[list[Outgoing], list[BadLine]]:
    if path == "-":
        return read_transactions(sys.stdin, "stdin")
    try:
        with open(path, encoding="utf-8") as handle:
            return read_transactions(handle, path)
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except FileNotFoundError:
        raise BadInput(f"no such file: {path}") from None


def generated(count: int, accounts: int, duplicate_rate: float, seed: int) -> list[Outgoing]:
    """The demo's seeded workload without invalid or conflicting messages (resends kept)."""
    from pipeline.workload import generate

    workload = generate(
        transactions=count,
        accounts=accounts,
        duplicate_rate=duplicate_rate,
        invalid_rate=0.0,
        conflict_rate=0.0,
        wave_size=max(count, 1),
        seed=seed,
    )
    return [check_body(s.body, f"generated:{i + 1}") for i, s in enumerate(workload.sends)]


def batch_entry(outgoing: Outgoing, entry_id: str, fifo: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": entry_id, "MessageBody": outgoing.body}
    if fifo:
        # One group per account keeps an account's transactions in order; the transaction
        # id as deduplication id makes SQS drop a resend within its 5-minute window.
        entry["MessageGroupId"] = outgoing.account_id
        entry["MessageDeduplicationId"] = outgoing.transaction_id
    return entry


@dataclass
class SendResult:
    sent: list[tuple[Outgoing, str]]  # with the message id SQS gave it
    failed: list[tuple[Outgoing, str]]  # with the last reason


def send_batches(
    sqs: Any,
    queue_url: str,
    messages: Sequence[Outgoing],
    *,
    fifo: bool,
    progress: ProgressBar,
    sent_log: TextIO | None = None,
    sleep: Any = time.sleep,
) -> SendResult:
    """SendMessageBatch by tens; an entry SQS reports failed is retried with backoff.

    An entry failed by the sender's fault (``SenderFault``: too big, bad attribute) is not
    retried. Each sent message is appended to ``sent_log`` as it is confirmed.
    """
    result = SendResult(sent=[], failed=[])
    for start in range(0, len(messages), BATCH):
        pending = {str(i): m for i, m in enumerate(messages[start : start + BATCH])}
        for attempt in range(ATTEMPTS):
            response = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[batch_entry(m, entry_id, fifo) for entry_id, m in pending.items()],
            )
            for success in response.get("Successful", []):
                outgoing = pending.pop(success["Id"])
                result.sent.append((outgoing, success["MessageId"]))
                if sent_log is not None:
                    sent_log.write(_log_line(outgoing, success["MessageId"], queue_url) + "\n")
                progress.advance(1)
            for failure in response.get("Failed", []):
                if failure.get("SenderFault"):
                    outgoing = pending.pop(failure["Id"])
                    result.failed.append((outgoing, failure.get("Message") or failure["Code"]))
                    progress.advance(1)
            if not pending:
                break
            if attempt < ATTEMPTS - 1:
                sleep(min(0.2 * 2**attempt, 5.0))
        last = {f["Id"]: f.get("Message") or f["Code"] for f in response.get("Failed", [])}
        for entry_id, outgoing in pending.items():
            reason = last.get(entry_id, "no answer")
            result.failed.append((outgoing, f"{reason} (after {ATTEMPTS} attempts)"))
            progress.advance(1)
        if sent_log is not None:
            sent_log.flush()
    return result


def _log_line(outgoing: Outgoing, message_id: str, queue_url: str) -> str:
    return json.dumps(
        {
            "transaction_id": outgoing.transaction_id,
            "account_id": outgoing.account_id,
            "currency": outgoing.currency,
            "amount": outgoing.amount,
            "body": outgoing.body,
            "message_id": message_id,
            "queue_url": queue_url,
            "source": outgoing.source,
            "sent_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        },
        sort_keys=True,
    )


def run_send(args: argparse.Namespace) -> int:
    if args.file is None and args.count is None:
        raise OpsError("give --file FILE or --count N", ExitCode.USAGE)
    if args.file is not None and args.count is not None:
        raise OpsError("give --file or --count, not both", ExitCode.USAGE)
    target = Target.from_args(args)
    target.ledger_table_name("send")  # a ledger consumer's queue, or one line and exit 2
    queue_url = target.consumer.queue_url
    bad: list[BadLine] = []
    if args.file is not None:
        messages, bad = read_file(args.file)
        for line in bad:
            print(f"pipeline: {args.file}: {line}", file=sys.stderr)
    else:
        messages = generated(args.count, args.accounts, args.duplicate_rate, args.seed)
    fifo = queue_url.endswith(".fifo")
    progress = ProgressBar(len(messages), sys.stderr, label="sent", unit="messages")
    log_path = Path(args.sent_log)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as sent_log:
        try:
            result = send_batches(
                target.client("sqs"),
                queue_url,
                messages,
                fifo=fifo,
                progress=progress,
                sent_log=sent_log,
            )
        finally:
            progress.close()
    kind = "FIFO queue" if fifo else "queue"
    print(
        f"sent {len(result.sent)} of {len(messages)} messages to the {kind} {queue_url}; "
        f"sent log: {log_path}"
    )
    for outgoing, reason in result.failed:
        print(
            f"pipeline: not sent: {outgoing.source} ({outgoing.transaction_id}): {reason}",
            file=sys.stderr,
        )
    if result.failed:
        raise OpsError(f"{len(result.failed)} messages not sent (see above); the rest were sent")
    if bad:
        raise BadInput(
            f"{len(bad)} bad lines in {args.file} skipped (listed above); "
            f"the other {len(messages)} were sent"
        )
    return ExitCode.OK


def iter_sent_log(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, entry) of a sent log; a bad line is BadInput naming its number."""
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise BadInput(f"no such sent log: {path}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                raise BadInput(f"{path}: line {number} is not JSON") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("body"), str):
                raise BadInput(f"{path}: line {number} is not a sent-log entry (no body)")
            yield number, entry
