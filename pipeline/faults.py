"""Faults injected around the consumer (its AWS clients and its invocation), never inside it.

Client faults are botocore event hooks on the consumer's own DynamoDB client: the code
under test runs unchanged and sees what it would see from AWS (a throttling error) or
simply stops (a crash before or after a write reached DynamoDB).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

# The status a completion writes (functions' RecordStatus.COMPLETED, spelled out: the
# harness reads DynamoDB requests, not the code under test).
COMPLETED = "COMPLETED"


class InjectedCrash(BaseException):
    """The process dies mid-invocation (a BaseException: the code under test catches none)."""


@dataclass(frozen=True)
class FaultRates:
    """Probabilities per DynamoDB write (crashes, throttling) or per invocation (lost response).

    "Before/after effect" means before/after a write: in atomic mode the one transaction
    (effect and record together); in leased mode any of its writes (the lease, the effect,
    the completion), so every boundary between them is hit.
    """

    crash_before_effect: float = 0.0
    crash_after_effect: float = 0.0
    lost_response: float = 0.0
    throttle: float = 0.0
    # A transaction cancelled by a concurrent one (TransactionConflict), as AWS does under
    # contention and the serialized local cloud never does.
    transaction_conflict: float = 0.0
    # An invocation that stalls before its effect for ``stall_seconds``: its lease (or
    # the message's visibility) runs out and another invocation takes over (a zombie).
    stall: float = 0.0
    stall_seconds: float = 0.0
    # Per downstream send (a stage's SendMessageBatch to the next stage's queue): the
    # process dies after the commit before the send, or after the send before the ack.
    crash_before_send: float = 0.0
    crash_after_send: float = 0.0

    @classmethod
    def demo(cls) -> FaultRates:
        return cls(
            crash_before_effect=0.03, crash_after_effect=0.03, lost_response=0.03, throttle=0.03
        )


@dataclass
class FaultCounts:
    crashes_before_effect: int = 0
    crashes_after_effect: int = 0
    lost_responses: int = 0
    throttled: int = 0
    transaction_conflicts: int = 0
    stalls: int = 0
    crashes_before_send: int = 0
    crashes_after_send: int = 0
    # Observed, not injected: the boundaries where leased mode can apply an effect twice.
    # An effect write that succeeded, or got no answer, and was followed by no completion
    # (a crash after it, or a crash, throttle, error or no answer on the completion); and
    # a completion refused because another invocation took the key meanwhile (a stall, or
    # a slow invocation on a loaded machine). Every double execution needs one of these;
    # the campaign checks that.
    effects_unrecorded: int = 0
    completions_fenced: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Each add(), timestamped (``time.time()``, name): the report's fault timeline.
    _events: list[tuple[float, str]] = field(default_factory=list, repr=False)

    def add(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)
            self._events.append((time.time(), name))

    def events(self) -> list[tuple[float, str]]:
        """Every fault counted so far, in order: (wall-clock time, field name)."""
        with self._lock:
            return list(self._events)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


# FaultCounts fields observed at the DynamoDB calls rather than injected.
OBSERVED = ("effects_unrecorded", "completions_fenced")

# The writes that carry an effect or a record, in either mode.
EFFECT_OPERATIONS = ("TransactWriteItems", "PutItem", "UpdateItem")


def _error(code: str, message: str, operation: str, **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, **extra}, operation)


def _is_completion(params: dict[str, Any], idempotency_table: str | None) -> bool:
    """A leased-mode completion: an UpdateItem on the idempotency table writing COMPLETED."""
    values = params.get("ExpressionAttributeValues", {})
    return (
        idempotency_table is not None
        and params.get("TableName") == idempotency_table
        and {"S": COMPLETED} in values.values()
    )


def inject_client_faults(
    dynamodb: Any,
    rates: FaultRates | Callable[[], FaultRates],
    counts: FaultCounts,
    rng: random.Random,
    *,
    idempotency_table: str | None = None,
) -> None:
    """Register fault hooks on a boto3 DynamoDB client's write calls.

    Stalls happen only before an effect: a transaction, or a write to any table other than
    ``idempotency_table`` (in leased mode, after the lease is taken). ``rates`` may be a
    callable, read at each call: a campaign turns faults off for its final settling.
    """
    current = rates if callable(rates) else (lambda: rates)
    # What the call in flight on this thread is: botocore's later events do not carry
    # the API parameters, so before-parameter-build notes them here.
    call = threading.local()

    def transact_items() -> range:
        return range(getattr(call, "items", 0))

    def stall(model: Any, params: dict[str, Any], **_: Any) -> None:
        # before-parameter-build sees the API parameters (before-call sees the HTTP request).
        call.items = len(params.get("TransactItems", []))
        call.leased_effect = model.name != "TransactWriteItems" and (
            params.get("TableName", idempotency_table) != idempotency_table
        )
        call.completion = _is_completion(params, idempotency_table)
        is_effect = model.name == "TransactWriteItems" or call.leased_effect
        if is_effect and rng.random() < current().stall:
            counts.add("stalls")
            time.sleep(current().stall_seconds)

    def before(model: Any, **_: Any) -> None:
        rates = current()
        if rng.random() < rates.throttle:
            counts.add("throttled")
            if getattr(call, "completion", False):
                counts.add("effects_unrecorded")
            raise _error(
                "ProvisionedThroughputExceededException", "injected throttling", model.name
            )
        if model.name == "TransactWriteItems" and rng.random() < rates.transaction_conflict:
            counts.add("transaction_conflicts")
            raise _error(
                "TransactionCanceledException",
                "Transaction cancelled [TransactionConflict] (injected)",
                model.name,
                CancellationReasons=[{"Code": "TransactionConflict"} for _ in transact_items()],
            )
        if rng.random() < rates.crash_before_effect:
            counts.add("crashes_before_effect")
            if getattr(call, "completion", False):
                counts.add("effects_unrecorded")
            raise InjectedCrash(f"before {model.name}")

    def after(model: Any, parsed: dict[str, Any], **_: Any) -> None:
        error = parsed.get("Error", {}).get("Code")
        if getattr(call, "completion", False) and error is not None:
            fenced = error == "ConditionalCheckFailedException"
            counts.add("completions_fenced" if fenced else "effects_unrecorded")
        if rng.random() < current().crash_after_effect:
            counts.add("crashes_after_effect")
            if getattr(call, "leased_effect", False) and error is None:
                counts.add("effects_unrecorded")
            raise InjectedCrash(f"after {model.name}")

    def unanswered(**_: Any) -> None:
        # No response at all (a timeout, a dropped connection, after botocore's retries):
        # an effect write may have been applied, a completion may not have been.
        if getattr(call, "completion", False) or getattr(call, "leased_effect", False):
            counts.add("effects_unrecorded")

    events = dynamodb.meta.events
    for operation in EFFECT_OPERATIONS:
        events.register(f"before-parameter-build.dynamodb.{operation}", stall)
        events.register(f"before-call.dynamodb.{operation}", before)
        events.register(f"after-call.dynamodb.{operation}", after)
        events.register(f"after-call-error.dynamodb.{operation}", unanswered)


def inject_send_faults(
    sqs: Any,
    rates: FaultRates | Callable[[], FaultRates],
    counts: FaultCounts,
    rng: random.Random,
    *,
    queue_url: str,
) -> None:
    """Register crash hooks on a stage's SQS client around its sends to ``queue_url`` (the
    next stage's queue): after the commit before the send, and after the send before the
    acknowledgement. Sends to other queues (dead letters) are left alone."""
    current = rates if callable(rates) else (lambda: rates)
    call = threading.local()

    def queue_name(url: Any) -> str:
        # By name: the function's variable and a stack output may spell the host apart.
        return str(url or "").rstrip("/").rsplit("/", 1)[-1]

    def note(params: dict[str, Any], **_: Any) -> None:
        call.downstream = queue_name(params.get("QueueUrl")) == queue_name(queue_url)

    def before(**_: Any) -> None:
        if getattr(call, "downstream", False) and rng.random() < current().crash_before_send:
            counts.add("crashes_before_send")
            raise InjectedCrash("after the commit, before the downstream send")

    def after(**_: Any) -> None:
        if getattr(call, "downstream", False) and rng.random() < current().crash_after_send:
            counts.add("crashes_after_send")
            raise InjectedCrash("after the downstream send, before the acknowledgement")

    events = sqs.meta.events
    for operation in ("SendMessage", "SendMessageBatch"):
        events.register(f"before-parameter-build.sqs.{operation}", note)
        events.register(f"before-call.sqs.{operation}", before)
        events.register(f"after-call.sqs.{operation}", after)
