"""The verdict's arithmetic: which ledgers an honest run can produce, and which it cannot."""

from __future__ import annotations

import pytest

from pipeline.verdict import _explained


@pytest.mark.parametrize(
    ("got", "base", "unsettled", "explained"),
    [
        ((300, 3), (300, 3), [], True),  # every transaction applied once
        ((300, 3), (300, 3), [(50,)], True),  # the dead-lettered one was never applied
        ((350, 4), (300, 3), [(50,)], True),  # ... or applied before its deliveries failed
        ((400, 4), (300, 3), [(50,)], False),  # one extra transaction, but not that one
        ((400, 5), (300, 3), [(50,)], False),  # applied twice
        ((200, 2), (300, 3), [], False),  # lost
        ((370, 5), (300, 3), [(50,), (20,), (70,)], True),  # two of three unsettled applied
        ((300, 4), (300, 3), [], False),  # counted twice, balance coincides
        # an unsettled original whose conflicting variant came first: either amount, once
        ((351, 4), (300, 3), [(50, 51)], True),
        ((350, 4), (300, 3), [(50, 51)], True),
        ((401, 5), (300, 3), [(50, 51)], False),  # both bodies of one key applied
    ],
)
def test_balances_explained_by_each_transaction_at_most_once(
    got: tuple[int, int], base: tuple[int, int], unsettled: list[tuple[int, ...]], explained: bool
) -> None:
    assert _explained(got, base, unsettled) is explained
