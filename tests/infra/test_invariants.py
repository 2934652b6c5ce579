"""The construct refuses, at synth, every setting under which the guarantee breaks."""

from __future__ import annotations

import pytest
from aws_cdk import Duration

from exactly_once_cdk import GuaranteeViolation, InvalidConsumerSettings

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


def test_when_source_retention_is_at_the_maximum_says_to_lower_it() -> None:
    # GIVEN a source retention of 14 days, SQS's maximum: the DLQ cannot keep longer
    with pytest.raises(
        GuaranteeViolation,
        match=r"not longer than source_retention \(14 days \(1209600 s\)\): lower "
        r"source_retention below 14 days \(1209600 s\), SQS's maximum",
    ) as refused:
        build_consumer(source_retention=Duration.days(14), idempotency_retention=Duration.days(29))
    assert "raise dead_letter_retention" not in str(refused.value)


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


# --- batch settings AWS would reject (not a guarantee question) ---------------------------


def test_refuses_a_large_standard_batch_without_a_batching_window() -> None:
    # GIVEN 11 messages a batch and no window: AWS rejects the event source mapping
    with pytest.raises(
        InvalidConsumerSettings,
        match=r"max_batching_window is 0 s with batch_size 11: raise max_batching_window to "
        r"at least 1 s \(or leave it unset\), or lower batch_size to 10",
    ) as refused:
        build_consumer(batch_size=11, max_batching_window=Duration.seconds(0))
    assert not isinstance(refused.value, GuaranteeViolation), "AWS's limit, not the guarantee"
    assert str(refused.value).startswith("TestStack/Consumer: refused, AWS would reject")


def test_accepts_a_large_standard_batch_with_the_default_window() -> None:
    _, consumer = build_consumer(batch_size=100)
    assert consumer.event_source_mapping is not None


@pytest.mark.parametrize("batch_size", [0, 10_001])
def test_refuses_a_standard_batch_size_outside_1_to_10000(batch_size: int) -> None:
    with pytest.raises(
        InvalidConsumerSettings,
        match=rf"batch_size is {batch_size}: set it between 1 and 10000 \(a standard queue",
    ):
        build_consumer(batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [0, 11])
def test_refuses_a_fifo_batch_size_outside_1_to_10(batch_size: int) -> None:
    with pytest.raises(
        InvalidConsumerSettings, match=rf"batch_size is {batch_size}: set it between 1 and 10 "
    ):
        build_consumer(fifo=True, batch_size=batch_size)


def test_refuses_a_batching_window_over_five_minutes() -> None:
    with pytest.raises(
        InvalidConsumerSettings, match=r"max_batching_window is 301 s: lower it to at most 300 s"
    ):
        build_consumer(max_batching_window=Duration.seconds(301))


def test_one_message_lists_guarantee_and_invalid_settings_together() -> None:
    # GIVEN one guarantee problem and one setting AWS would reject
    with pytest.raises(GuaranteeViolation) as refused:
        build_consumer(idempotency_retention=Duration.days(1), batch_size=20_000)
    message = str(refused.value)
    assert "the exactly-once guarantee would not hold" in message, message
    assert "raise idempotency_retention" in message, message
    assert "\nand AWS would reject these settings:\n- batch_size is 20000" in message, message
