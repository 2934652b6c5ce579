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
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from .messages import Candidate, Decision
from .outcomes import Outcome

M = TypeVar("M")
_SEND_BATCH = 10  # SendMessageBatch's limit
_SENT_ON = (Outcome.PROCESSED, Outcome.DUPLICATE)


@dataclass(frozen=True)
class Downstream:
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


def attach_downstream(
    effect: object, candidates: Iterable[Candidate[M]], decisions: dict[str, Decision]
) -> None:
    """Give each processed or duplicate message its downstream messages (in place).

    Computed twice and compared: messages that differ between two calls (a random id, the
    time) would reach the next stage as new messages on every redelivery, so such a message
    fails with that reason instead of being sent.
    """
    hook = downstream_hook(effect)
    if hook is None:
        return
    for candidate in candidates:
        decision = decisions.get(candidate.message_id)
        if decision is None or decision.outcome not in _SENT_ON:
            continue
        try:
            first = tuple(hook(candidate.message))
            second = tuple(hook(candidate.message))
        except Exception as exc:  # noqa: BLE001 - one message's bug fails that message
            why = f"downstream messages could not be built: {exc!r}; retried"
            decisions[candidate.message_id] = Decision(Outcome.FAILED, decision.record_id, why)
            continue
        if [d.entry("") for d in first] != [d.entry("") for d in second]:
            why = (
                "downstream messages differ between two calls: derive their bodies and keys "
                "from the source message alone"
            )
            decisions[candidate.message_id] = Decision(Outcome.FAILED, decision.record_id, why)
            continue
        decisions[candidate.message_id] = replace(decision, downstream=first)


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
            for start in range(0, len(messages), _SEND_BATCH):
                chunk = messages[start : start + _SEND_BATCH]
                entries = [m.entry(str(i)) for i, (_, m) in enumerate(chunk)]
                try:
                    response = self._client.send_message_batch(QueueUrl=queue_url, Entries=entries)
                    for failure in response.get("Failed", []):
                        failed[chunk[int(failure["Id"])][0]] = str(failure.get("Message", ""))
                except Exception as exc:  # noqa: BLE001 - any failure means "not sent"
                    failed.update({source: repr(exc) for source, _ in chunk})
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
