"""The time-dependent decisions, walked along one key's timeline with an injected clock."""

from __future__ import annotations

import pytest

from exactly_once.protocol import (
    Verdict,
    classify,
    expiration_for,
    is_expired,
    lease_expiry_for,
)
from exactly_once.records import IdempotencyRecord, RecordStatus

T0 = 1_800_000_000.0
RETENTION = 3600
HASH = "a" * 64
OTHER_HASH = "b" * 64


def completed(at: float = T0, payload_hash: str = HASH) -> IdempotencyRecord:
    return IdempotencyRecord(
        id="p#k",
        status=RecordStatus.COMPLETED,
        payload_hash=payload_hash,
        expiration=expiration_for(at, RETENTION),
        updated_at_ms=int(at * 1000),
        message_id="m-1",
    )


def leased(at: float = T0, lease_seconds: float = 30) -> IdempotencyRecord:
    return IdempotencyRecord(
        id="p#k",
        status=RecordStatus.INPROGRESS,
        payload_hash=HASH,
        expiration=expiration_for(at, RETENTION),
        updated_at_ms=int(at * 1000),
        message_id="m-1",
        lease_owner="owner-1",
        lease_expiry_ms=lease_expiry_for(at, lease_seconds, None),
    )


def test_absent_key_is_claimable() -> None:
    assert classify(None, HASH, T0) is Verdict.CLAIMABLE


@pytest.mark.parametrize("later", [0, 1, RETENTION - 1, RETENTION])
def test_live_completed_record_makes_a_duplicate(later: float) -> None:
    # GIVEN a record completed at T0 WHEN the same payload comes back within retention
    assert classify(completed(), HASH, T0 + later) is Verdict.DUPLICATE


def test_live_completed_record_with_other_payload_is_a_conflict() -> None:
    assert classify(completed(), OTHER_HASH, T0 + 10) is Verdict.CONFLICT


def test_record_past_retention_is_claimable_even_while_still_stored() -> None:
    # GIVEN a record whose retention ended one second ago, not yet deleted by TTL
    record = completed()
    later = T0 + RETENTION + 1
    # THEN it no longer protects its key: that is the memory trade-off infra/ guards
    assert is_expired(record, later)
    assert classify(record, HASH, later) is Verdict.CLAIMABLE


def test_live_lease_means_in_progress_elsewhere() -> None:
    assert classify(leased(), HASH, T0 + 29) is Verdict.IN_PROGRESS


def test_live_lease_with_other_payload_is_a_conflict() -> None:
    assert classify(leased(), OTHER_HASH, T0 + 29) is Verdict.CONFLICT


def test_expired_lease_can_be_taken_over() -> None:
    assert classify(leased(lease_seconds=30), HASH, T0 + 30.001) is Verdict.CLAIMABLE


def test_lease_boundary_is_inclusive_to_the_millisecond() -> None:
    record = leased(lease_seconds=30)
    assert classify(record, HASH, T0 + 30) is Verdict.IN_PROGRESS
    assert classify(record, HASH, T0 + 30.002) is Verdict.CLAIMABLE


def test_lease_never_outlives_the_invocation() -> None:
    # GIVEN 900 s allowed but only 12 s left in the invocation
    expiry = lease_expiry_for(T0, 900, remaining_millis=12_000)
    assert expiry == int(T0 * 1000) + 12_000


def test_lease_without_context_uses_the_configured_maximum() -> None:
    assert lease_expiry_for(T0, 45, remaining_millis=None) == int(T0 * 1000) + 45_000


def test_negative_remaining_time_gives_an_already_expired_lease() -> None:
    assert lease_expiry_for(T0, 45, remaining_millis=-5) == int(T0 * 1000)


def test_expiration_counts_whole_seconds_like_ttl() -> None:
    assert expiration_for(T0 + 0.9, 10) == int(T0) + 10
