"""The fault hooks hit the calls they claim to: a harness that cannot fault proves nothing."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger, Metrics
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from exactly_once import make_handler
from exactly_once_local.events import lambda_record, sqs_event
from ledger.bootstrap import ledger_effect
from pipeline.faults import FaultCounts, FaultRates, InjectedCrash, inject_client_faults
from tests.support.aws import LedgerResources


def run_one(
    resources: LedgerResources,
    mode: str,
    rates: FaultRates | Callable[[], FaultRates],
    *,
    on_call: Callable[[str, dict[str, Any]], None] = lambda name, params: None,
    on_send: Callable[[], None] = lambda: None,
) -> FaultCounts:
    client = boto3.client(
        "dynamodb",
        region_name=resources.dynamodb.meta.region_name,
        config=Config(retries={"total_max_attempts": 1}),  # a lost connection stays lost
    )
    counts = FaultCounts()
    client.meta.events.register("before-send.dynamodb.*", lambda **_: on_send())

    def note(model: Any, params: dict[str, Any], **_: Any) -> None:
        on_call(model.name, params)

    # Registered first, so it runs before the fault hooks on every write.
    client.meta.events.register("before-parameter-build.dynamodb.*", note)
    inject_client_faults(
        client, rates, counts, random.Random(1), idempotency_table=resources.idempotency_table
    )
    handler = make_handler(
        ledger_effect,
        environ=resources.environ(EXACTLY_ONCE_MODE=mode),
        dynamodb=client,
        sqs=resources.sqs,
        logger=Logger(service="faults", level="ERROR"),
        metrics=Metrics(namespace="Test"),
    ).build()
    body = json.dumps(
        {"transaction_id": f"t-{mode}", "account_id": "a", "amount": "1.00", "currency": "EUR"}
    )
    with contextlib.suppress(InjectedCrash):  # the process died; the counts say where
        handler(sqs_event(lambda_record(body=body, queue_arn=resources.queue_arn)), None)
    return counts


def test_leased_stalls_only_before_the_effect_not_the_lease_or_completion(
    resources: LedgerResources,
) -> None:
    counts = run_one(resources, "leased", FaultRates(stall=1.0, stall_seconds=0))
    assert counts.stalls == 1  # the ledger UpdateItem; not the lease's nor the completion's


def test_atomic_stalls_before_the_transaction_and_conflicts_cancel_it(
    resources: LedgerResources,
) -> None:
    counts = run_one(
        resources, "atomic", FaultRates(stall=1.0, stall_seconds=0, transaction_conflict=1.0)
    )
    assert counts.stalls == 3 and counts.transaction_conflicts == 3  # three rounds, all cancelled
    assert resources.balance("a") == 0


class OnlyAt:
    """Fault rates that apply to one leased-mode write only: the lease, the effect (the
    ledger's UpdateItem) or the completion. The test's own hook names the call in flight."""

    def __init__(self, resources: LedgerResources, step: str, rates: FaultRates) -> None:
        self._resources, self._step, self._rates = resources, step, rates
        self.current = ""

    def on_call(self, name: str, params: dict[str, Any]) -> None:
        if params.get("TableName") == self._resources.ledger_table:
            self.current = "effect"
        elif {"S": "COMPLETED"} in params.get("ExpressionAttributeValues", {}).values():
            self.current = "completion"
        else:
            self.current = "lease" if name == "UpdateItem" else name

    def __call__(self) -> FaultRates:
        return self._rates if self.current == self._step else FaultRates()


@pytest.mark.parametrize(
    ("step", "rates", "applied", "unrecorded"),
    [
        ("lease", FaultRates(crash_after_effect=1.0), False, 0),
        ("effect", FaultRates(crash_before_effect=1.0), False, 0),
        ("effect", FaultRates(throttle=1.0), False, 0),
        ("effect", FaultRates(crash_after_effect=1.0), True, 1),
        ("completion", FaultRates(crash_before_effect=1.0), True, 1),
        ("completion", FaultRates(throttle=1.0), True, 1),
        ("completion", FaultRates(crash_after_effect=1.0), True, 0),
    ],
)
def test_an_effect_left_unrecorded_is_counted_exactly_between_effect_and_record(
    resources: LedgerResources, step: str, rates: FaultRates, applied: bool, unrecorded: int
) -> None:
    only = OnlyAt(resources, step, rates)
    counts = run_one(resources, "leased", only, on_call=only.on_call)
    assert sum(counts.as_dict().values()) - counts.effects_unrecorded == 1  # the one fault
    assert (resources.balance("a") == 100) is applied
    assert counts.effects_unrecorded == unrecorded
    assert counts.completions_fenced == 0


def test_a_completion_refused_to_a_displaced_owner_is_counted(
    resources: LedgerResources,
) -> None:
    # GIVEN another invocation takes the key over just before this one completes
    def take_over(name: str, params: dict[str, Any]) -> None:
        if {"S": "COMPLETED"} in params.get("ExpressionAttributeValues", {}).values():
            resources.dynamodb.update_item(
                TableName=resources.idempotency_table,
                Key=params["Key"],
                UpdateExpression="SET lease_owner = :other",
                ExpressionAttributeValues={":other": {"S": "successor"}},
            )

    counts = run_one(resources, "leased", FaultRates(), on_call=take_over)
    # THEN the effect was applied, the completion fenced, and the hooks saw it
    assert resources.balance("a") == 100
    assert counts.completions_fenced == 1 and counts.effects_unrecorded == 0


def test_a_completion_that_gets_no_answer_leaves_its_effect_unrecorded(
    resources: LedgerResources,
) -> None:
    # GIVEN the connection drops while the completion is sent (after botocore's retries)
    only = OnlyAt(resources, "completion", FaultRates())

    def drop() -> None:
        if only.current == "completion":
            raise EndpointConnectionError(endpoint_url="https://dynamodb.test")

    counts = run_one(resources, "leased", only, on_call=only.on_call, on_send=drop)
    # THEN the effect was applied, and the hooks count it as unrecorded
    assert resources.balance("a") == 100
    assert counts.effects_unrecorded == 1 and counts.completions_fenced == 0
