"""Messages an effect sends on to the next stage: after its commit, before the ack.

Sending at least once plus processing idempotently is exactly-once processing, stage after
stage, when every downstream key is derived from the upstream message alone. So the layer
sends a message's downstream messages after its effect committed, and again on every
duplicate delivery of it (the commit may have happened in an invocation that crashed
before its send); only then is the source message acknowledged. A failed send makes the
source message an item failure: SQS delivers it again, it is a duplicate by then, and the
send is repeated. The next stage absorbs the repeats by its own key.

    commit (record + effect) --> send downstream --> acknowledge (batch response)
       crash here: redelivered as a duplicate --> send again --> acknowledge
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from .dead_letters import MAX_MESSAGE_BYTES, entry_size, packed
from .messages import Candidate, Decision
from .outcomes import Outcome
from .values import Value, replace

M = TypeVar("M")
_SENT_ON: tuple[Outcome, ...] = (Outcome.PROCESSED, Outcome.DUPLICATE)


class Downstream(Value):
    """A message for the next stage: ``body`` (a dict is sent as canonical JSON) to
    ``queue_url``; a FIFO queue also needs ``group_id`` (and ``deduplication_id`` unless
    the queue deduplicates by content). Derive all of it from the source message alone."""

    queue_url: str
    body: Mapping[str, Any] | str
    group_id: str | None = None
    deduplication_id: str | None = None

    def encoded_body(self) -> str:
        if isinstance(self.body, str):
            return self.body
        return json.dumps(self.body, sort_keys=True, separators=(",", ":"))

    def entry(self, entry_id: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"Id": entry_id, "MessageBody": self.encoded_body()}
        if self.group_id is not None:
            entry["MessageGroupId"] = self.group_id
        if self.deduplication_id is not None:
            entry["MessageDeduplicationId"] = self.deduplication_id
        return entry


def downstream_hook(effect: object) -> Callable[[Any], Iterable[Downstream]] | None:
    """The effect's ``downstream(message)`` method, if it has one."""
    hook = getattr(effect, "downstream", None)
    return hook if callable(hook) else None


class UnsendableDownstream(Exception):
    """The effect's downstream messages cannot be sent as built (a bug in the effect)."""


def prepare_downstream(effect: object, message: Any) -> tuple[Downstream, ...]:
    """The message's downstream messages, checked before its effect is applied.

    Built twice and compared: messages that differ between two calls (a random id, the
    time) would reach the next stage as new messages on every redelivery. Each must be a
    ``Downstream`` whose body encodes as JSON and fits one SQS message. Raises
    ``UnsendableDownstream`` with the reason; the message then fails before any effect.
    """
    hook = downstream_hook(effect)
    if hook is None:
        return ()
    try:
        first = tuple(hook(message))
        second = tuple(hook(message))
        for item in first + second:
            if not isinstance(item, Downstream):
                raise UnsendableDownstream(f"downstream() returned {type(item).__name__}")
        entries = [m.entry(str(i)) for i, m in enumerate(first)]
        if entries != [m.entry(str(i)) for i, m in enumerate(second)]:
            raise UnsendableDownstream(
                "downstream messages differ between two calls: derive their bodies and keys "
                "from the source message alone"
            )
    except UnsendableDownstream:
        raise
    except Exception as exc:
        raise UnsendableDownstream(f"downstream messages could not be built: {exc!r}") from exc
    for entry in entries:
        if entry_size(entry) > MAX_MESSAGE_BYTES:
            raise UnsendableDownstream(f"a downstream message exceeds {MAX_MESSAGE_BYTES} bytes")
    return first


def attach_downstream(
    prepared: Mapping[str, tuple[Downstream, ...]],
    candidates: Iterable[Candidate[M]],
    decisions: dict[str, Decision],
) -> None:
    """Give each processed or duplicate message its prepared downstream messages (in place)."""
    for candidate in candidates:
        decision = decisions.get(candidate.message_id)
        messages = prepared.get(candidate.message_id, ())
        if decision is not None and messages and decision.outcome in _SENT_ON:
            decisions[candidate.message_id] = replace(decision, downstream=messages)


class DownstreamSender:
    """Sends the downstream messages of a batch; a failed send fails its source message."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def send(
        self, records: Sequence[Mapping[str, Any]], decisions: dict[str, Decision]
    ) -> dict[str, Decision]:
        by_queue: dict[str, list[tuple[str, Downstream]]] = {}
        for record in records:
            decision = decisions[record["messageId"]]
            if decision.outcome in _SENT_ON:
                for message in decision.downstream:
                    by_queue.setdefault(message.queue_url, []).append(
                        (record["messageId"], message)
                    )
        failed: dict[str, str] = {}
        for queue_url, messages in by_queue.items():
            entries = [m.entry(str(i)) for i, (_, m) in enumerate(messages)]
            sources = {str(i): source for i, (source, _) in enumerate(messages)}
            for chunk in packed(entries):  # within SendMessageBatch's count and total size
                try:
                    response = self._client.send_message_batch(QueueUrl=queue_url, Entries=chunk)
                    for failure in response.get("Failed", []):
                        failed[sources[failure["Id"]]] = str(failure.get("Message", ""))
                except Exception as exc:  # noqa: BLE001 - any failure means "not sent"
                    failed.update({sources[entry["Id"]]: repr(exc) for entry in chunk})
        settled = dict(decisions)
        for message_id, why in failed.items():
            previous = decisions[message_id]
            settled[message_id] = Decision(
                Outcome.FAILED,
                previous.record_id,
                f"{previous.outcome.value}, but a downstream send failed ({why}); it is sent "
                "again when this message comes back as a duplicate",
            )
        return settled
