"""The mixed phase's batches: new messages with a fixed number of redeliveries in each."""

from __future__ import annotations

from bench.workload import batches, build_workload, mixed_batches


def test_mixed_batches_hold_one_redelivery_among_nine_new_messages() -> None:
    # GIVEN 30 processed bodies and 18 new ones
    seen = build_workload(30, seed=1).bodies
    fresh = build_workload(18, seed=2).bodies

    # WHEN they are mixed into batches of 10 with one redelivery each
    mixed = mixed_batches(fresh, seen, size=10, duplicates_per_batch=1, seed=3)

    # THEN there are two full batches, each with 9 new bodies in order and one seen body
    assert [len(batch) for batch in mixed] == [10, 10]
    for batch, group in zip(mixed, batches(fresh, 9), strict=True):
        assert [body for body in batch if body not in seen] == group
        assert sum(body in seen for body in batch) == 1
