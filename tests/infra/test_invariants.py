"""The construct refuses, at synth, every setting under which the guarantee breaks."""

from __future__ import annotations

import pytest
from aws_cdk import Duration

from infra import GuaranteeViolation

from .conftest import build_consumer

pytestmark = pytest.mark.infra


def test_defaults_are_accepted() -> None:
    _, consumer = build_consumer()
    assert consumer.timings.violations() == []


def test_refuses_idempotency_retention_shorter_than_the_redelivery_window() -> None:
    # GIVEN records kept 18 days, while a message can come back 19 days after it was sent
    with pytest.raises(
        GuaranteeViolation, match=r"raise idempotency_retention to at least 1641600 s"
    ):
        build_consumer(idempotency_retention=Duration.days(18))


def test_accepts_idempotency_retention_equal_to_the_window() -> None:
    _, consumer = build_consumer(idempotency_retention=Duration.days(19))
    assert consumer.timings.idempotency_retention == consumer.timings.redelivery_window


def test_refuses_a_longer_dlq_retention_without_a_longer_idempotency_retention() -> None:
    with pytest.raises(GuaranteeViolation, match=r"idempotency_retention is 19 days"):
        build_consumer(source_retention=Duration.days(5), idempotency_retention=Duration.days(19))


def test_refuses_visibility_timeout_under_six_function_timeouts() -> None:
    with pytest.raises(
        GuaranteeViolation,
        match=r"raise visibility_timeout to at least 360 s or lower function_timeout",
    ):
        build_consumer(
            function_timeout=Duration.seconds(60), visibility_timeout=Duration.seconds(300)
        )


def test_refuses_dlq_retention_not_longer_than_source_retention() -> None:
    with pytest.raises(
        GuaranteeViolation, match=r"raise dead_letter_retention or lower source_retention"
    ):
        build_consumer(source_retention=Duration.days(7), dead_letter_retention=Duration.days(7))


def test_refuses_a_fifo_source_with_a_standard_dlq() -> None:
    with pytest.raises(
        GuaranteeViolation, match=r"a FIFO source queue needs a FIFO DLQ: set dead_letter_fifo=True"
    ):
        build_consumer(fifo=True, dead_letter_fifo=False)


def test_refuses_a_standard_source_with_a_fifo_dlq() -> None:
    with pytest.raises(GuaranteeViolation, match=r"set dead_letter_fifo=False"):
        build_consumer(dead_letter_fifo=True)


def test_refuses_a_lease_longer_than_the_function_timeout() -> None:
    with pytest.raises(GuaranteeViolation, match=r"lower lease_max"):
        build_consumer(lease_max=Duration.seconds(31))


def test_refuses_a_batching_window_on_a_fifo_source() -> None:
    with pytest.raises(GuaranteeViolation, match=r"max_batching_window is set on a FIFO source"):
        build_consumer(fifo=True, max_batching_window=Duration.seconds(1))


def test_refuses_overriding_the_constructs_own_environment() -> None:
    with pytest.raises(GuaranteeViolation, match=r"environment overrides IDEMPOTENCY_KEY_PREFIX"):
        build_consumer(environment={"IDEMPOTENCY_KEY_PREFIX": "other"})


def test_lists_every_violation_at_once_and_names_the_construct() -> None:
    with pytest.raises(GuaranteeViolation) as refused:
        build_consumer(
            idempotency_retention=Duration.days(1),
            visibility_timeout=Duration.seconds(30),
        )
    message = str(refused.value)
    assert message.startswith("TestStack/Consumer: refused"), message
    assert "idempotency_retention" in message and "visibility_timeout" in message, message
