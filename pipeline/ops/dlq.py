"""`pipeline dlq list | redrive | purge`: the dead-letter queue, by hand.

Reading a queue's messages without consuming them means receiving them: ``peek`` hides
what it receives for a short while and makes it visible again as soon as it is done.

Redrive uses SQS's ``StartMessageMoveTask`` where the endpoint has it (AWS). Where it
does not (moto), it receives from the DLQ, sends to the source queue with the body and
the producer's message attributes, and deletes from the DLQ only what was sent: a crash
at any point leaves a message in the DLQ, in the source queue, or (between send and
delete) in both, which the consumer's idempotency makes harmless. Nothing is lost.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from pipeline.ops.errors import Declined, ExitCode, OpsError, error_code
from pipeline.ops.targets import Target

REASON = "exactly_once.reason"
OUTCOME = "exactly_once.outcome"
SOURCE_MESSAGE_ID = "exactly_once.source_message_id"
RECORD_ID = "exactly_once.record_id"
OWN_PREFIX = "exactly_once."
NO_REASON = "moved by SQS after maxReceiveCount (no reason attached)"
_UNSUPPORTED_CODES = frozenset(
    {"InvalidAction", "UnsupportedOperation", "NotImplemented", "UnknownOperationException"}
)
_TASK_DONE = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


def receive(
    sqs: Any, queue_url: str, count: int, *, hide_seconds: int, wait_seconds: int
) -> list[dict[str, Any]]:
    return list(
        sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=max(1, min(count, 10)),
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=hide_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
    )


def release(sqs: Any, queue_url: str, messages: Iterable[dict[str, Any]]) -> None:
    """Make received messages visible again at once."""
    pending = list(messages)
    for start in range(0, len(pending), 10):
        chunk = pending[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )


def wait_seconds_for(target: Target) -> int:
    # Short polls on AWS sample a few servers and may miss messages; a long poll on the
    # local cloud would hold its one request lock for the whole wait.
    return 0 if target.is_local else 2


def peek(
    sqs: Any, queue_url: str, limit: int, *, wait_seconds: int, hide_seconds: int = 30
) -> list[dict[str, Any]]:
    """Up to ``limit`` messages of the queue, left in it (visible again on return)."""
    seen: dict[str, dict[str, Any]] = {}
    try:
        while len(seen) < limit:
            batch = receive(
                sqs,
                queue_url,
                limit - len(seen),
                hide_seconds=hide_seconds,
                wait_seconds=wait_seconds,
            )
            if not batch:
                break
            for message in batch:
                seen.setdefault(message["MessageId"], message)
    finally:
        release(sqs, queue_url, seen.values())
    return list(seen.values())


def _attribute(message: dict[str, Any], name: str) -> str | None:
    value = (message.get("MessageAttributes") or {}).get(name) or {}
    text = value.get("StringValue")
    return str(text) if text is not None else None


@dataclass(frozen=True)
class DeadLetter:
    """One DLQ message as an operator reads it."""

    message_id: str
    sent_at_ms: int
    receive_count: int
    outcome: str
    reason: str
    source_message_id: str
    record_id: str
    key_path: str  # where the consumer reads its idempotency key (transaction_id: ledger)
    key: str  # the key in the body, "" when there is none
    body: str

    @classmethod
    def from_received(cls, message: dict[str, Any], key_path: str = "transaction_id") -> DeadLetter:
        attributes = message.get("Attributes") or {}
        return cls(
            message_id=message["MessageId"],
            sent_at_ms=int(attributes.get("SentTimestamp", 0)),
            receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
            outcome=_attribute(message, OUTCOME) or "failed",
            reason=_attribute(message, REASON) or NO_REASON,
            source_message_id=_attribute(message, SOURCE_MESSAGE_ID) or "",
            record_id=_attribute(message, RECORD_ID) or "",
            key_path=key_path,
            key=key_in(message.get("Body", ""), key_path),
            body=message.get("Body", ""),
        )

    @property
    def transaction_id(self) -> str:
        """The key when it is a ledger's transaction id ("" otherwise), as before keys."""
        return self.key if self.key_path == "transaction_id" else ""

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "transaction_id": self.transaction_id}

    def render(self, *, with_body: bool) -> str:
        sent = datetime.fromtimestamp(self.sent_at_ms / 1000, UTC).isoformat(timespec="seconds")
        lines = [
            f"{self.message_id}  sent {sent}  {key_label(self.key_path)} {self.key or '-'}",
            f"  {self.outcome}: {self.reason}",
        ]
        if self.source_message_id:
            lines.append(f"  source message {self.source_message_id}")
        if with_body:
            lines.append(f"  body {self.body}")
        return "\n".join(lines)


def key_label(key_path: str) -> str:
    """How a key is named in output: "transaction" for the ledger's, else its path."""
    return "transaction" if key_path == "transaction_id" else key_path


def key_in(body: str, key_path: str) -> str:
    """The idempotency key at ``key_path`` (JMESPath, as the consumer reads it), or ""."""
    import jmespath

    try:
        document = json.loads(body)
        value = jmespath.search(key_path, document) if isinstance(document, dict) else None
    except (ValueError, jmespath.exceptions.JMESPathError):
        return ""
    return value if isinstance(value, str) else ""


def oldest_age_seconds(messages: Sequence[dict[str, Any]], now_ms: int) -> float | None:
    stamps = [int((m.get("Attributes") or {}).get("SentTimestamp", 0)) for m in messages]
    return max(0.0, (now_ms - min(stamps)) / 1000) if stamps else None


# --- redrive ----------------------------------------------------------------------------


def redrive_entry(message: dict[str, Any], entry_id: str, fifo: bool) -> dict[str, Any]:
    """A SendMessageBatch entry for the source queue: body and producer attributes as sent."""
    attributes: dict[str, dict[str, Any]] = {}
    for name, value in sorted((message.get("MessageAttributes") or {}).items()):
        if name.startswith(OWN_PREFIX):
            continue  # the consumer's reason belongs to the DLQ, not to the retry
        kept = {
            k: v
            for k, v in value.items()
            if k in ("DataType", "StringValue", "BinaryValue") and v is not None
        }
        attributes[name] = kept
    entry: dict[str, Any] = {"Id": entry_id, "MessageBody": message["Body"]}
    if attributes:
        entry["MessageAttributes"] = attributes
    if fifo:
        group = (message.get("Attributes") or {}).get("MessageGroupId") or "redrive"
        entry["MessageGroupId"] = group
        # A fresh deduplication id: the original's may still be in SQS's 5-minute window,
        # where the redriven copy would be accepted and silently dropped.
        entry["MessageDeduplicationId"] = f"redrive-{message['MessageId']}"
    return entry


# A redriven message must still find its idempotency record when it is processed again:
# redrive only messages first sent less than the retention minus this margin ago.
RETENTION_MARGIN_SECONDS = 24 * 3600


def past_retention_cutoff_ms(environment: Mapping[str, str], now_ms: int) -> int | None:
    """Messages first sent before this epoch millisecond may outlive their record on the way
    back (None when the function's retention is unknown)."""
    raw = environment.get("IDEMPOTENCY_RETENTION_SECONDS", "")
    if not raw.strip().isdigit():
        return None
    return now_ms - (int(raw) - RETENTION_MARGIN_SECONDS) * 1000


@dataclass
class RedriveResult:
    moved: int = 0
    not_sent: list[str] = field(default_factory=list)  # reasons, one per message left in DLQ
    not_deleted: int = 0  # sent, but still in the DLQ too (a later redrive repeats them)
    arrived_during: int = 0  # dead-lettered after the redrive began: left for the next one
    past_retention: list[tuple[str, float]] = field(default_factory=list)  # (id, age in days)


def redrive_by_hand(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    *,
    started_ms: int,
    limit: int,
    wait_seconds: int,
    hide_seconds: int = 60,
    sent_after_ms: int | None = None,
) -> RedriveResult:
    """Receive, send to the source, delete what was sent; only messages older than the start.

    Messages that reach the DLQ after ``started_ms`` (a redriven conflict coming straight
    back, for instance) are held out of sight until the end and left in the DLQ, so the
    loop ends and never moves a message twice. So are messages first sent before
    ``sent_after_ms`` (past the idempotency retention): they are listed, not moved.
    """
    result = RedriveResult()
    fifo = queue_url.endswith(".fifo")
    held: dict[str, dict[str, Any]] = {}  # received, not moved: made visible at the end
    try:
        while result.moved < limit:
            batch = receive(sqs, dlq_url, 10, hide_seconds=hide_seconds, wait_seconds=wait_seconds)
            if not batch:
                break
            movable: list[dict[str, Any]] = []
            for message in batch:
                sent_ms = int((message.get("Attributes") or {}).get("SentTimestamp", 0))
                if sent_after_ms is not None and sent_ms < sent_after_ms:
                    if message["MessageId"] not in held:
                        age_days = (started_ms - sent_ms) / 86_400_000
                        result.past_retention.append((message["MessageId"], age_days))
                    held[message["MessageId"]] = message
                elif sent_ms >= started_ms or len(movable) >= limit - result.moved:
                    result.arrived_during += sent_ms >= started_ms
                    held[message["MessageId"]] = message
                else:
                    movable.append(message)
            if not movable:
                continue
            for message in movable:
                held[message["MessageId"]] = message
            response = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[redrive_entry(m, str(i), fifo) for i, m in enumerate(movable)],
            )
            sent = [movable[int(s["Id"])] for s in response.get("Successful", [])]
            for failure in response.get("Failed", []):
                result.not_sent.append(
                    f"{movable[int(failure['Id'])]['MessageId']}: "
                    f"{failure.get('Message') or failure.get('Code')}"
                )
            if not sent:
                continue
            deleted = sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(sent)
                ],
            )
            result.not_deleted += len(deleted.get("Failed", []))
            for index in (int(s["Id"]) for s in deleted.get("Successful", [])):
                held.pop(sent[index]["MessageId"], None)
            result.moved += len(sent)
    finally:
        release(sqs, dlq_url, held.values())
    return result


def start_move_task(target: Target, dlq_arn: str, queue_arn: str) -> str | None:
    """StartMessageMoveTask's handle, or None when the endpoint lacks the operation."""
    sqs = target.single_attempt_client("sqs") if target.is_local else target.client("sqs")
    try:
        response = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=queue_arn)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if error_code(exc) in _UNSUPPORTED_CODES or (target.is_local and status >= 500):
            return None
        raise
    return str(response["TaskHandle"])


def wait_for_move_task(sqs: Any, dlq_arn: str, handle: str, poll_seconds: float = 2.0) -> int:
    """Block until the move task ends; the number of messages it moved."""
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10).get("Results", [])
        task = next((t for t in tasks if t.get("TaskHandle") == handle), tasks[0] if tasks else {})
        moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        status = task.get("Status", "COMPLETED")
        if status in _TASK_DONE:
            if status != "COMPLETED":
                raise OpsError(
                    f"move task {status.lower()} after {moved} messages: "
                    f"{task.get('FailureReason', 'no reason given')}"
                )
            return moved
        print(f"\rmoving: {moved} so far", end="", file=sys.stderr, flush=True)
        time.sleep(poll_seconds)


def queue_depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes.get("ApproximateNumberOfMessages", 0)),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    )


# --- commands ---------------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    target = Target.from_args(args)
    dlq_url = target.consumer.dead_letter_queue_url
    key_path = target.key_path
    sqs = target.client("sqs")
    letters = [
        DeadLetter.from_received(m, key_path)
        for m in peek(sqs, dlq_url, args.limit, wait_seconds=wait_seconds_for(target))
    ]
    letters.sort(key=lambda letter: (letter.sent_at_ms, letter.message_id))
    if args.json:
        for letter in letters:
            print(json.dumps(letter.as_json(), sort_keys=True))
        return ExitCode.OK
    print(
        f"{len(letters)} messages in the DLQ {dlq_url}"
        + (f" (first {args.limit} shown)" if len(letters) >= args.limit else "")
    )
    for letter in letters:
        print(letter.render(with_body=args.bodies))
    return ExitCode.OK


def _function_environment(target: Target) -> Mapping[str, str]:
    """The consumer function's environment; empty when it has no function (retention unknown:
    nothing is held back)."""
    if not target.consumer.function_name:
        return {}
    return target.function_environment


def run_redrive(args: argparse.Namespace) -> int:
    target = Target.from_args(args)
    dlq_url = target.consumer.dead_letter_queue_url
    queue_url = target.consumer.queue_url
    sqs = target.client("sqs")
    visible, in_flight = queue_depth(sqs, dlq_url)
    if visible + in_flight == 0:
        print(f"the DLQ {dlq_url} is empty: nothing to redrive")
        return ExitCode.OK
    now_ms = int(time.time() * 1000)
    cutoff = (
        None
        if args.past_retention
        else past_retention_cutoff_ms(_function_environment(target), now_ms)
    )
    # A move task moves everything: with a message past retention in the DLQ, go by hand.
    too_old = cutoff is not None and any(
        int((m.get("Attributes") or {}).get("SentTimestamp", 0)) < cutoff
        for m in peek(sqs, dlq_url, 1000, wait_seconds=wait_seconds_for(target))
    )
    if not args.by_hand and not too_old:
        dlq_arn = target.queue_arn(dlq_url)
        handle = start_move_task(target, dlq_arn, target.queue_arn(queue_url))
        if handle is not None:
            if not args.wait:
                print(f"move task started ({handle}): about {visible} messages to {queue_url}")
                return ExitCode.OK
            moved = wait_for_move_task(sqs, dlq_arn, handle)
            print(f"\nredriven {moved} messages from the DLQ to {queue_url} (StartMessageMoveTask)")
            return ExitCode.OK
        print(
            "the endpoint has no StartMessageMoveTask: moving by receive, send, delete",
            file=sys.stderr,
        )
    result = redrive_by_hand(
        sqs,
        dlq_url,
        queue_url,
        started_ms=now_ms,
        limit=args.limit,
        wait_seconds=wait_seconds_for(target),
        sent_after_ms=cutoff,
    )
    print(f"redriven {result.moved} messages from the DLQ to {queue_url}")
    if result.arrived_during:
        print(
            f"  {result.arrived_during} messages reached the DLQ during the redrive and "
            "were left there"
        )
    if result.not_deleted:
        print(
            f"  {result.not_deleted} sent but not deleted from the DLQ: a later redrive "
            "sends them again (harmless: the consumer deduplicates)"
        )
    for message_id, age_days in result.past_retention:
        print(
            f"pipeline: left in the DLQ: {message_id}, first sent {age_days:.1f} days ago, "
            "past the idempotency retention minus a day: its record may be gone, and a "
            "redrive would apply it again if it was applied before (--past-retention moves "
            "it anyway)",
            file=sys.stderr,
        )
    for reason in result.not_sent:
        print(f"pipeline: not redriven (left in the DLQ): {reason}", file=sys.stderr)
    if result.not_sent:
        raise OpsError(f"{len(result.not_sent)} messages not redriven; they are still in the DLQ")
    return ExitCode.OK


def confirm(question: str) -> bool:
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, EOFError):
        return False
    return answer.strip().lower() in ("y", "yes")


def run_purge(args: argparse.Namespace) -> int:
    target = Target.from_args(args)
    dlq_url = target.consumer.dead_letter_queue_url
    sqs = target.client("sqs")
    visible, in_flight = queue_depth(sqs, dlq_url)
    total = visible + in_flight
    if total == 0:
        print(f"the DLQ {dlq_url} is already empty")
        return ExitCode.OK
    if not args.yes and not confirm(
        f"delete all {total} messages of the DLQ {dlq_url}? they cannot be recovered."
    ):
        raise Declined("purge not confirmed: nothing deleted (pass --yes in scripts)")
    sqs.purge_queue(QueueUrl=dlq_url)
    print(f"purged the DLQ {dlq_url} ({total} messages)")
    return ExitCode.OK
