"""Inputs and settings that must be refused one at a time, never by failing a whole batch."""

from __future__ import annotations

from typing import Any

import pytest

from exactly_once.config import ExactlyOnceConfig
from exactly_once.errors import ConfigurationError
from exactly_once.keys import KeySpec
from exactly_once.messages import Decision, admit, hold_back_after_group_failures
from exactly_once.outcomes import Outcome
from exactly_once_local.events import lambda_record

ARN = "arn:aws:sqs:eu-west-1:123456789012:ledger.fifo"
KEY = KeySpec(prefix="ledger-v1", path="transaction_id")


def test_a_parser_that_raises_something_unexpected_makes_the_message_invalid() -> None:
    def broken(document: dict[str, Any]) -> Any:
        raise ArithmeticError("overflow")

    record = lambda_record(body='{"transaction_id": "t-1"}', queue_arn=ARN)
    decision = admit(record, KEY, broken)
    assert isinstance(decision, Decision)
    assert decision.outcome is Outcome.INVALID
    assert "ArithmeticError" in decision.reason


def test_fifo_messages_after_a_groups_failure_wait_instead_of_going_to_the_dlq() -> None:
    records = [
        lambda_record(body="{}", queue_arn=ARN, group_id=group, message_id=f"m{index}")
        for index, group in enumerate(["g1", "g1", "g2", "g1"])
    ]
    decisions = {
        "m0": Decision(Outcome.FAILED, reason="throttled"),
        "m1": Decision(Outcome.INVALID, reason="not JSON"),
        "m2": Decision(Outcome.INVALID, reason="not JSON"),
        "m3": Decision(Outcome.DUPLICATE),
    }
    held = hold_back_after_group_failures(records, decisions)
    assert [held[f"m{i}"].outcome for i in range(4)] == [
        Outcome.FAILED,
        Outcome.FAILED,  # held: would otherwise be dead-lettered now and again on its retry
        Outcome.INVALID,  # another group goes ahead
        Outcome.FAILED,
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LEASE_MAX_SECONDS", "nan"),
        ("LEASE_MAX_SECONDS", "inf"),
        ("IDEMPOTENCY_RETENTION_SECONDS", "1e400"),
        ("IDEMPOTENCY_RETENTION_SECONDS", "ten days"),
    ],
)
def test_unusable_durations_are_configuration_errors(name: str, value: str) -> None:
    environ = {
        "IDEMPOTENCY_TABLE_NAME": "t",
        "IDEMPOTENCY_KEY_PREFIX": "ledger-v1",
        "IDEMPOTENCY_KEY_PATH": "transaction_id",
        "DEAD_LETTER_QUEUE_URL": "https://sqs/dlq",
        name: value,
    }
    with pytest.raises(ConfigurationError, match=name):
        ExactlyOnceConfig.from_env(environ)
