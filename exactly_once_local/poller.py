"""Lambda's SQS poller, played locally: receive, invoke, apply the partial batch response.

What the real event source mapping does and moto cannot (it needs Docker to run code):
gather up to ``batch_size`` messages (within the batching window), hand them to the
handler as an AWS-shaped event, delete the successes, and leave the failures to reappear
after the visibility timeout (SQS's redrive policy moves them to the DLQ after
maxReceiveCount). Up to ``concurrency`` invocations run at once, each worker a warm
container of its own.

Two hooks let a test harness add faults around the invocation without touching it:
``crashed(exc)`` says whether an exception means the invocation's process died (nothing
deleted, counted as "crashed"), and ``response_lost(rng)`` whether the response to a
finished invocation never reached the poller (nothing deleted).

Each invocation is one ``on_batch`` line (its size, outcomes and duration), and each
batch's outcomes go to ``PollStats`` and, timestamped, to its optional ``observer`` (a
timeline recorder).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exactly_once import ExactlyOnceBatchHandler, SystemClock
from exactly_once_local.events import from_received, sqs_event
from exactly_once_local.lambda_context import LocalLambdaContext

# Lambda's invocation payload limit, and SQS's largest message (1 MiB since 2025): a batch
# gathered over several receives asks for no more messages than surely fit.
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
RECEIVE_RETRY_SECONDS = 0.5  # after a failed receive
MAX_MESSAGE_BYTES = 1024 * 1024

# A batch handler: ``handler(event, context) -> {"batchItemFailures": [...]}``. When it has
# ``last_decisions`` (as ``ExactlyOnceBatchHandler`` does), the poller counts each record's
# outcome from it; a plain Lambda function without it counts its records as "unknown".
BatchHandler = ExactlyOnceBatchHandler | Callable[[dict[str, Any], Any], dict[str, Any]]
HandlerFactory = Callable[[int], BatchHandler]
# Told each batch's outcomes with the wall-clock time (``time.time()``) they were counted.
OutcomeObserver = Callable[[float, Counter[str]], None]


@dataclass
class PollStats:
    invocations: int = 0
    delivered: int = 0
    redelivered: int = 0
    deleted: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    observer: OutcomeObserver | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_batch(self, records: list[dict[str, Any]], outcomes: Counter[str]) -> None:
        with self._lock:
            self.invocations += 1
            self.delivered += len(records)
            self.redelivered += sum(
                1 for r in records if int(r["attributes"]["ApproximateReceiveCount"]) > 1
            )
            self.outcomes.update(outcomes)
        if self.observer is not None:
            self.observer(time.time(), outcomes)

    def add_deleted(self, count: int) -> None:
        with self._lock:
            self.deleted += count


@dataclass
class Poller:
    """Polls one queue and invokes a handler per batch, like an event source mapping."""

    sqs: Any
    queue_url: str
    queue_arn: str
    handler_factory: HandlerFactory
    batch_size: int = 10
    # MaximumBatchingWindowInSeconds: how long to wait for a full batch (0: take what is there).
    batching_window_seconds: float = 0.0
    concurrency: int = 2
    timeout_seconds: float = 30.0
    seed: int = 7
    stats: PollStats = field(default_factory=PollStats)
    _rngs: dict[int, random.Random] = field(default_factory=dict, repr=False)
    # One line per invocation: "batch of N: outcomes; R to retry (D ms)".
    on_batch: Callable[[str], None] = lambda line: None
    function_name: str = "exactly-once-consumer"

    def drain(self, deadline_seconds: float = 300.0) -> None:
        """Poll until the queue has nothing visible or in flight (or the deadline passes)."""
        stop = threading.Event()
        workers = self._start_workers(stop)
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline and not self._empty():
            time.sleep(0.1)
        stop.set()
        for worker in workers:
            worker.join()
        if not self._empty():
            raise TimeoutError(f"queue not drained after {deadline_seconds:.0f} s")

    def run_until(self, stop: threading.Event) -> None:
        """Poll forever, like a deployed event source mapping, until ``stop`` is set.

        Blocks; the ``concurrency`` workers finish their current batch and return.
        """
        workers = self._start_workers(stop)
        for worker in workers:
            worker.join()

    def _start_workers(self, stop: threading.Event) -> list[threading.Thread]:
        workers = [
            threading.Thread(
                target=self._work, args=(index, stop), daemon=True, name=f"poller-{index}"
            )
            for index in range(self.concurrency)
        ]
        for worker in workers:
            worker.start()
        return workers

    def is_empty(self) -> bool:
        """Nothing visible and nothing in flight in the queue."""
        return self._empty()

    def _empty(self) -> bool:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]) == 0
            and int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 0
        )

    def _work(self, index: int, stop: threading.Event) -> None:
        """One worker: a warm container, then gather a batch and invoke, until ``stop``."""
        handler = self.handler_factory(index)
        # Kept across drains, so that each wave does not replay the same fault rolls.
        rng = self._rngs.setdefault(index, random.Random(self.seed * 1000 + index))
        while not stop.is_set():
            try:
                messages = self._gather(stop)
            except (BotoCoreError, ClientError) as exc:
                # A receive the endpoint refused or never answered: the messages stay in
                # the queue; say so and poll again, as a mapping's poller does.
                self.on_batch(f"receive failed, polling again: {exc}")
                stop.wait(RECEIVE_RETRY_SECONDS)
                continue
            if not messages:
                stop.wait(0.05)
                continue
            self._invoke(handler, messages, rng)

    # Hooks for a harness that injects faults (see the module docstring).

    def crashed(self, exc: BaseException) -> bool:
        """Whether ``exc`` raised by the handler means its process died mid-invocation."""
        return False

    def response_lost(self, rng: random.Random) -> bool:
        """Whether the response of a finished invocation is lost on its way back."""
        return False

    def _receive(self, most: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(most, 10),
            WaitTimeSeconds=0,  # long polls would hold moto's request lock
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        return messages

    def _gather(self, stop: threading.Event) -> list[dict[str, Any]]:
        """One batch, as Lambda gathers it: up to ``batch_size`` (beyond SQS's 10 per
        receive), waiting up to the batching window once a first message is in, and
        never past the 6 MB invocation payload."""
        messages = self._receive(self.batch_size)
        if not messages:
            return messages
        size = sum(len(m["Body"].encode()) for m in messages)
        window_ends = time.monotonic() + self.batching_window_seconds
        while len(messages) < self.batch_size and not stop.is_set():
            room = (PAYLOAD_LIMIT_BYTES - size) // MAX_MESSAGE_BYTES
            if room <= 0:
                break  # one more message could push the event past the payload limit
            more = self._receive(min(self.batch_size - len(messages), room))
            messages += more
            size += sum(len(m["Body"].encode()) for m in more)
            if not more:
                if time.monotonic() >= window_ends:
                    break
                stop.wait(min(0.05, max(0.0, window_ends - time.monotonic())))
        return messages

    def _invoke(
        self, handler: BatchHandler, messages: list[dict[str, Any]], rng: random.Random
    ) -> None:
        """One invocation, as the event source mapping runs it: call the handler, count
        the outcomes, then delete what succeeded."""
        records = [from_received(m, self.queue_arn) for m in messages]
        started = time.perf_counter()
        response = self._call_handler(handler, records, started)
        if response is None:
            return  # crashed or failed: the whole batch comes back after the timeout
        took = _took(started)
        outcomes = self._outcomes(handler, records)
        self.stats.add_batch(records, outcomes)
        if self.response_lost(rng):
            self.on_batch(f"batch of {len(records)}: response lost, nothing deleted {took}")
            return
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        not_deleted = self._delete_successes([m for m in messages if m["MessageId"] not in failed])
        summary = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        undeleted = f"; {not_deleted} not deleted" if not_deleted else ""
        self.on_batch(
            f"batch of {len(records)}: {summary}; {len(failed)} to retry{undeleted} {took}"
        )

    def _call_handler(
        self, handler: BatchHandler, records: list[dict[str, Any]], started: float
    ) -> dict[str, Any] | None:
        """The handler's response, or None when the invocation crashed or raised."""
        context = LocalLambdaContext(
            SystemClock(),
            timeout_seconds=self.timeout_seconds,
            function_name=self.function_name,
            aws_request_id=str(uuid.uuid4()),
        )
        try:
            return handler(sqs_event(*records), context) or {}
        except BaseException as exc:
            took = _took(started)
            if self.crashed(exc):
                self.stats.add_batch(records, Counter({"crashed": len(records)}))
                self.on_batch(
                    f"batch of {len(records)}: invocation crashed, nothing deleted {took}"
                )
                return None
            if not isinstance(exc, Exception):
                raise
            # A function error: Lambda retries the whole batch.
            self.stats.add_batch(records, Counter({"function_error": len(records)}))
            self.on_batch(
                f"batch of {len(records)}: function error {exc!r}, nothing deleted {took}"
            )
            return None

    @staticmethod
    def _outcomes(handler: BatchHandler, records: list[dict[str, Any]]) -> Counter[str]:
        """Each record's outcome from ``last_decisions``, or "unknown" without it."""
        decisions = getattr(handler, "last_decisions", None)
        if decisions is None:
            return Counter({"unknown": len(records)})
        return Counter(d.outcome.value for d in decisions.values())

    def _delete_successes(self, done: list[dict[str, Any]]) -> int:
        """Delete ``done`` in batches of 10; how many SQS failed to delete."""
        not_deleted = 0
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            response = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
            # As on AWS: an undeleted success comes back after the visibility timeout and
            # is then a duplicate.
            not_deleted += len(response.get("Failed", []))
        self.stats.add_deleted(len(done) - not_deleted)
        return not_deleted


def _took(started: float) -> str:
    return f"({(time.perf_counter() - started) * 1000:.0f} ms)"
