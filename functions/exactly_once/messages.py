"""SQS records as the protocol sees them: a key, a payload hash, a parsed message, or a reason."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .errors import InvalidMessage
from .keys import KeySpec, decode_body, payload_hash
from .outcomes import Outcome
from .values import Value

if TYPE_CHECKING:
    from .downstream import Downstream

M = TypeVar("M")

# What a consumer's parser does with a decoded body: return its message or raise InvalidMessage.
Parser = Callable[[dict[str, Any]], M]
# What the payload hash covers, from the parsed message (an effect's optional ``payload``).
PayloadOf = Callable[[M], Any]


def payload_hook(effect: object) -> PayloadOf[Any] | None:
    """The effect's ``payload(message)`` method, if it has one."""
    hook = getattr(effect, "payload", None)
    return hook if callable(hook) else None


class Candidate(Value, Generic[M]):
    """A valid message, ready for the protocol."""

    message_id: str
    record_id: str
    payload_hash: str
    message: M
    group_id: str | None


class Decision(Value):
    """The outcome reached for one SQS message, and why."""

    outcome: Outcome
    record_id: str | None = None
    reason: str = ""
    # What to send on to the next stage before this message is acknowledged.
    downstream: tuple[Downstream, ...] = ()


def group_id_of(record: Mapping[str, Any]) -> str | None:
    group_id = record.get("attributes", {}).get("MessageGroupId")
    return str(group_id) if group_id is not None else None


def is_fifo(records: Sequence[Mapping[str, Any]]) -> bool:
    return bool(records) and str(records[0].get("eventSourceARN", "")).endswith(".fifo")


def admit(
    record: Mapping[str, Any],
    key: KeySpec,
    parse: Parser[M],
    payload_of: PayloadOf[M] | None = None,
) -> Candidate[M] | Decision:
    """Turn an SQS record into a Candidate, or into an INVALID Decision naming the reason.

    The payload hash covers the decoded body, or ``payload_of(message)`` when given: then
    bodies that mean the same (``"10.0"`` and ``"10.00"``) are one payload, not a conflict.
    """
    record_id: str | None = None
    try:
        document = decode_body(str(record.get("body", "")))
        record_id = key.record_id_of(document)
        message = parse(document)
        hashed = payload_hash(document if payload_of is None else payload_of(message))
    except InvalidMessage as exc:
        return Decision(Outcome.INVALID, record_id=record_id, reason=exc.reason)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not fail the whole batch
        why = f"message could not be parsed ({type(exc).__name__})"
        return Decision(Outcome.INVALID, record_id=record_id, reason=why)
    return Candidate(
        message_id=record["messageId"],
        record_id=record_id,
        payload_hash=hashed,
        message=message,
        group_id=group_id_of(record),
    )


def hold_back_after_group_failures(
    records: Sequence[Mapping[str, Any]], decisions: dict[str, Decision]
) -> dict[str, Decision]:
    """FIFO: after a message group's first item failure, the rest of it is retried too.

    Powertools' FIFO processor reports them as failures anyway; turning DLQ-bound ones
    into failures here keeps them from reaching the DLQ now and again on their retry.
    """
    held = dict(decisions)
    failed_groups: set[str] = set()
    for record in records:
        group, message_id = group_id_of(record), record["messageId"]
        if group is None:
            continue
        decision = held[message_id]
        if group in failed_groups and not decision.outcome.is_item_failure:
            held[message_id] = Decision(
                Outcome.FAILED,
                decision.record_id,
                f"held behind an earlier failure in its FIFO group ({decision.outcome.value})",
            )
        elif decision.outcome.is_item_failure:
            failed_groups.add(group)
    return held
