"""The time-dependent decisions of the protocol, as pure functions of an injected ``now``.

Every condition expression in ``store.py`` says the same as ``classify`` below, with the
same ``now`` passed in as a value, so the decision made in Python and the one DynamoDB
makes on the write always agree.

One key's timeline (docs/protocol.md explains it)::

    leased:  take lease (INPROGRESS)       lease_expiry_ms
             |-- IN_PROGRESS (same hash) --|-- claimable: takeover, attempt + 1 ------------->
                 CONFLICT (other hash)
    either:  COMPLETED                                                   expiration
             |-- DUPLICATE (same hash) / CONFLICT (other hash) ----------|-- claimable again ->
                                                                         ^ expired, maybe still
                                                                           stored: TTL deletes
                                                                           it days later

Past ``expiration`` the key is forgotten even while the item is still stored: that is the
memory trade-off, safe only while retention outlasts every redelivery (the CDK construct,
``exactly_once_cdk.ExactlyOnceConsumer``, refuses a shorter retention at synth).
"""

from __future__ import annotations

import enum
import math

from .records import IdempotencyRecord, RecordStatus


class Verdict(enum.Enum):
    """What an existing record (or its absence) means for a new message with the same key."""

    CLAIMABLE = "claimable"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    IN_PROGRESS = "in_progress"


def is_expired(record: IdempotencyRecord, now: float) -> bool:
    """Retention is over: the record no longer protects its key, stored or not."""
    return record.expiration < now_seconds(now)


def lease_is_live(record: IdempotencyRecord, now: float) -> bool:
    return (
        record.status is RecordStatus.INPROGRESS
        and record.lease_expiry_ms is not None
        and record.lease_expiry_ms >= now_millis(now)
    )


def classify(record: IdempotencyRecord | None, payload_hash: str, now: float) -> Verdict:
    """The verdict for a message whose key holds ``record`` at time ``now``."""
    if record is None or is_expired(record, now):
        return Verdict.CLAIMABLE
    if record.status is RecordStatus.INPROGRESS and not lease_is_live(record, now):
        return Verdict.CLAIMABLE
    if record.payload_hash != payload_hash:
        return Verdict.CONFLICT
    if record.status is RecordStatus.COMPLETED:
        return Verdict.DUPLICATE
    return Verdict.IN_PROGRESS


def now_seconds(now: float) -> int:
    """``now`` as DynamoDB TTL counts it (whole epoch seconds, rounded down)."""
    return math.floor(now)


def now_millis(now: float) -> int:
    return math.floor(now * 1000)


def expiration_for(now: float, retention_seconds: int) -> int:
    """The epoch second at which a record written at ``now`` stops protecting its key."""
    return now_seconds(now) + retention_seconds


def lease_expiry_for(now: float, max_lease_seconds: float, remaining_millis: int | None) -> int:
    """The epoch millisecond at which a lease taken at ``now`` ends.

    Never later than the invocation's end (Lambda's remaining time, itself bounded by the
    function timeout): once the invocation is over nothing can complete the record, and
    the key should be claimable again as soon as possible.
    """
    lease_millis = int(max_lease_seconds * 1000)
    if remaining_millis is not None:
        lease_millis = min(lease_millis, max(remaining_millis, 0))
    return now_millis(now) + lease_millis
