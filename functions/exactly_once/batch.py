"""From an SQS event to a partial batch response, on Powertools' batch processors.

The consumer decides the whole batch first (atomic mode needs the batch at once to commit
it in one transaction, which a per-record handler cannot do); Powertools then builds the
response from those decisions, including FIFO's rule that a failure holds back the rest
of its message group.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.base import BasePartialBatchProcessor
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from .dead_letters import DeadLetterQueue
from .downstream import DownstreamSender
from .errors import RetryLater
from .messages import Decision, hold_back_after_group_failures, is_fifo
from .telemetry import Telemetry


class Consumer(Protocol):
    def decide(
        self,
        records: Sequence[Mapping[str, Any]],
        remaining_millis: Callable[[], int | None] = ...,
    ) -> dict[str, Decision]: ...


def remaining_millis_of(context: Any) -> Callable[[], int | None]:
    """The invocation's remaining time, read fresh at each call (None without a context)."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if getter is None:
        return lambda: None
    return lambda: int(getter())


class ExactlyOnceBatchHandler:
    """The Lambda handler body: decide, move dead letters, report, answer SQS."""

    def __init__(
        self,
        *,
        consumer: Consumer,
        dead_letters: DeadLetterQueue,
        telemetry: Telemetry,
        downstream: DownstreamSender | None = None,
    ) -> None:
        self._consumer = consumer
        self._dead_letters = dead_letters
        self._telemetry = telemetry
        # Sends through the dead letters' client (the same SQS client) unless told otherwise.
        self._downstream = downstream or DownstreamSender(dead_letters.client)
        self.last_decisions: dict[str, Decision] = {}

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        records: list[dict[str, Any]] = list(event.get("Records") or [])
        decisions = self._consumer.decide(records, remaining_millis_of(context))
        # After the commit, before the acknowledgement: a failed send fails its message.
        decisions = self._downstream.send(records, decisions)
        if is_fifo(records):
            decisions = hold_back_after_group_failures(records, decisions)
        decisions = self._dead_letters.settle(records, decisions)
        self._telemetry.record(decisions)
        self.last_decisions = decisions

        def settle(record: SQSRecord) -> None:
            decision = decisions[record.message_id]
            if decision.outcome.is_item_failure:
                raise RetryLater(f"{decision.outcome.value}: {decision.reason}")

        processor: BasePartialBatchProcessor
        if is_fifo(records):
            processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        else:
            processor = BatchProcessor(event_type=EventType.SQS)
        # A batch whose every message is retried is still a valid partial response; raising
        # instead would turn it into a function error and a misleading alarm.
        processor.raise_on_entire_batch_failure = False
        response = process_partial_response(
            event=dict(event), record_handler=settle, processor=processor, context=context
        )
        return dict(response)
