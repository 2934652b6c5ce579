"""An exactly-once checker for a user's own consumer, on in-process moto.

It runs the consumer on the same batch in several worlds, each on fresh resources, and
compares what ``observe`` sees in each with a reference run (the batch delivered once):

- *twice*: the batch delivered again after it settled (a lost acknowledgement, a resend);
- *crash before call k* / *crash after call k*: the invocation dies just before the k-th
  DynamoDB request of the reference run leaves, or just after its answer arrived, for every
  k; then SQS delivers the batch again (after the lease could have run out) until every
  message settles.

An effect that happened twice, or never, shows as a difference from the reference.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exactly_once import ManualClock, make_handler

from .events import lambda_record, sqs_event
from .lambda_context import LocalLambdaContext
from .moto_resources import FUNCTION_TIMEOUT_SECONDS, ConsumerResources

MAX_REDELIVERIES = 6
Body = Mapping[str, Any] | str
# Builds the function under test on fresh resources: (resources, its DynamoDB client,
# clock) -> a Lambda handler. The default is ``make_handler(effect)``.
HandlerFactory = Callable[[ConsumerResources, Any, ManualClock], Callable[..., Any]]


class InjectedCrash(Exception):
    """The checker's simulated crash of the invocation (the process died here)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    expected: Any
    found: Any

    @property
    def ok(self) -> bool:
        return bool(self.expected == self.found)


@dataclass
class ExactlyOnceReport:
    """Each scenario's state against the reference's; ``assert_ok()`` fails readably."""

    reference: Any
    calls: list[str]
    scenarios: list[Scenario] = field(default_factory=list)

    @property
    def failures(self) -> list[Scenario]:
        return [scenario for scenario in self.scenarios if not scenario.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    def describe(self) -> str:
        lines = [
            f"exactly-once check: {len(self.scenarios)} scenarios over {len(self.calls)} "
            f"DynamoDB calls ({', '.join(self.calls) or 'none'}); "
            f"{len(self.failures)} failed"
        ]
        for scenario in self.failures:
            lines.append(f"- {scenario.name}: the effect differs from one clean delivery")
            lines.append(f"    expected {_short(scenario.expected)}")
            lines.append(f"    found    {_short(scenario.found)}")
        return "\n".join(lines)

    def assert_ok(self) -> None:
        """Raise AssertionError naming every scenario whose effect was not exactly once."""
        if not self.ok:
            raise AssertionError(self.describe())


def _short(value: Any, limit: int = 600) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


class _Boundaries:
    """Counts the handler's DynamoDB calls; crashes before or after call number
    ``crash_at`` (from 1), if told to."""

    def __init__(self, client: Any, crash_at: int | None = None, after: bool = False) -> None:
        self.calls: list[str] = []
        self._crash_at = crash_at
        self._after = after
        self.crashed = False
        client.meta.events.register("before-call.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after_call)

    def _armed(self) -> bool:
        return not self.crashed and self._crash_at == len(self.calls)

    def _before(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)
        if self._armed() and not self._after:
            self.crashed = True
            raise InjectedCrash(f"crash before call {len(self.calls)} ({model.name})")

    def _after_call(self, model: Any, **_: Any) -> None:
        if self._armed() and self._after:
            self.crashed = True
            raise InjectedCrash(f"crash after call {len(self.calls)} ({model.name})")


def check_exactly_once(
    *,
    fresh: Callable[[], ConsumerResources],
    bodies: Sequence[Body],
    observe: Callable[[ConsumerResources], Any],
    effect: Any = None,
    handler: HandlerFactory | None = None,
    client_factory: Callable[[], Any] | None = None,
) -> ExactlyOnceReport:
    """Check that the consumer applies each of ``bodies`` exactly once.

    :param fresh: makes new resources for one world (queues, tables, initial data) each
        time it is called; the checker calls it once per scenario.
    :param bodies: one batch of messages (dicts are sent as JSON).
    :param observe: the effect's state in a world (e.g. rows of the effect's tables);
        compared with ``==``.
    :param effect: what ``make_handler`` takes; or pass ``handler`` to build the function.
    :param handler: a factory for the function under test, for consumers not made with
        ``make_handler`` (the checker then sees what they do too).
    :param client_factory: a new DynamoDB client for the function (default boto3's, in
        the resources' region): the checker's crashes hit only the function's calls.
    """
    if (effect is None) == (handler is None):
        raise ValueError("pass either effect= or handler=")
    with warnings.catch_warnings():
        # A crash before the first metric flushes an empty set: expected here, not a finding.
        warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
        return _check(
            fresh, bodies, observe, handler or _make_handler_factory(effect), client_factory
        )


def _check(
    fresh: Callable[[], ConsumerResources],
    bodies: Sequence[Body],
    observe: Callable[[ConsumerResources], Any],
    build: HandlerFactory,
    client_factory: Callable[[], Any] | None,
) -> ExactlyOnceReport:

    def world(crash_at: int | None = None, after: bool = False) -> tuple[Any, _Boundaries]:
        resources = fresh()
        client = (client_factory or _client_factory(resources))()
        boundaries = _Boundaries(client, crash_at, after)
        clock = ManualClock()
        function = build(resources, client, clock)
        records = resources.records(*bodies)
        _deliver_until_settled(function, records, clock)
        return resources, boundaries

    reference_world, reference_calls = world()
    reference = observe(reference_world)
    report = ExactlyOnceReport(reference=reference, calls=list(reference_calls.calls))

    twice = fresh()
    clock = ManualClock()
    function = build(twice, (client_factory or _client_factory(twice))(), clock)
    _deliver_until_settled(function, twice.records(*bodies), clock)
    clock.advance(FUNCTION_TIMEOUT_SECONDS + 1)
    _deliver_until_settled(function, twice.records(*bodies), clock)
    report.scenarios.append(Scenario("delivered twice", reference, observe(twice)))

    for index, call in enumerate(report.calls):
        for after in (False, True):
            crashed_world, _ = world(crash_at=index + 1, after=after)
            where = "after" if after else "before"
            name = f"crash {where} call {index + 1} ({call}), then redelivery"
            report.scenarios.append(Scenario(name, reference, observe(crashed_world)))
    return report


def _client_factory(resources: ConsumerResources) -> Callable[[], Any]:
    import boto3

    region = resources.dynamodb.meta.region_name
    return lambda: boto3.client("dynamodb", region_name=region)


def _make_handler_factory(effect: Any) -> HandlerFactory:
    def build(resources: ConsumerResources, client: Any, clock: ManualClock) -> Any:
        import logging

        from aws_lambda_powertools import Logger, Metrics

        return make_handler(
            effect,
            environ=resources.environ(),
            clock=clock,
            dynamodb=client,
            sqs=resources.sqs,
            logger=Logger(service="exactly-once-check", level=logging.CRITICAL),
            metrics=Metrics(namespace="ExactlyOnceCheck"),
        )

    return build


def _deliver_until_settled(function: Any, records: list[dict[str, Any]], clock: Any) -> None:
    """Deliver the batch as SQS would: again after a crash, the failed ones after a retry."""
    pending = records
    for _ in range(MAX_REDELIVERIES):
        try:
            response = function(sqs_event(*pending), LocalLambdaContext(clock))
        except InjectedCrash:
            failed = {record["messageId"] for record in pending}
        else:
            failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
        if not failed:
            return
        # SQS hands them back after the visibility timeout, by which any lease ran out.
        clock.advance(6 * FUNCTION_TIMEOUT_SECONDS)
        pending = [_again(record) for record in pending if record["messageId"] in failed]


def _again(record: dict[str, Any]) -> dict[str, Any]:
    """The same message delivered again: same id and body, one more receive."""
    attributes = record.get("attributes", {})
    return lambda_record(
        body=record["body"],
        queue_arn=record["eventSourceARN"],
        message_id=record["messageId"],
        receive_count=int(attributes.get("ApproximateReceiveCount", "1")) + 1,
        group_id=attributes.get("MessageGroupId"),
        deduplication_id=attributes.get("MessageDeduplicationId"),
    )
