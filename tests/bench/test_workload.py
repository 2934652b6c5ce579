"""The mixed phase's batches: new messages with random redeliveries of processed ones."""

from __future__ import annotations

import pytest

from bench.workload import build_workload, mixed_batches


def test_mixed_batches_keep_every_new_message_in_order_with_random_redeliveries() -> None:
    # GIVEN 200 processed bodies and 500 new ones
    seen = build_workload(200, seed=1).bodies
    fresh = build_workload(500, seed=2).bodies

    # WHEN they are mixed into batches of 10 with a 10% redelivery rate
    mixed = mixed_batches(fresh, seen, size=10, redelivery_rate=0.1, seed=3)

    # THEN every new body is there once, in order, and every other body is a processed one
    stream = [body for batch in mixed for body in batch]
    assert [body for body in stream if body not in seen] == fresh
    redelivered = [sum(body in seen for body in batch) for batch in mixed]
    # AND about a tenth of the stream is redelivered, batches holding none, one or more
    assert 0.05 < sum(redelivered) / len(stream) < 0.15
    assert 0 in redelivered and max(redelivered) >= 2
    # AND no batch holds one body twice; all batches are full but the last
    assert all(len(set(batch)) == len(batch) for batch in mixed)
    assert all(len(batch) == 10 for batch in mixed[:-1]) and 1 <= len(mixed[-1]) <= 10


def test_mixed_batches_are_seeded() -> None:
    seen = build_workload(50, seed=1).bodies
    fresh = build_workload(60, seed=2).bodies
    first = mixed_batches(fresh, seen, size=10, redelivery_rate=0.1, seed=9)
    assert mixed_batches(fresh, seen, size=10, redelivery_rate=0.1, seed=9) == first


def test_no_redeliveries_at_rate_zero_and_a_bad_rate_is_refused() -> None:
    seen = build_workload(5, seed=1).bodies
    fresh = build_workload(25, seed=2).bodies
    assert mixed_batches(fresh, seen, size=10, redelivery_rate=0.0, seed=1) == [
        fresh[0:10],
        fresh[10:20],
        fresh[20:25],
    ]
    with pytest.raises(ValueError, match="redelivery rate"):
        mixed_batches(fresh, seen, size=10, redelivery_rate=1.0, seed=1)
    with pytest.raises(ValueError, match="cannot fill a batch"):
        mixed_batches(fresh, seen, size=10, redelivery_rate=0.1, seed=1)
