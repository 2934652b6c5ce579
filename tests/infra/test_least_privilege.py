"""The consumer's grants are exactly the calls its code makes: recorded, not listed by hand.

moto does not enforce IAM, so a missing grant would only show in AWS. Here the ledger
handler runs every path of both modes on in-process moto (new, duplicate, conflict,
invalid, a mixed batch, a cancellation without the old item, an effect that fails and
releases its lease, a key leased elsewhere) while botocore hooks record each request as
the IAM action it needs on the resource it names. That set, plus what AWS documents for an
SQS trigger's poller, must equal what the synthesized stack grants.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from exactly_once import KeySpec, ManualClock
from exactly_once.values import replace
from pipeline.stack import SynthesizedStack
from tests.support.aws import (
    REGION,
    LedgerResources,
    create_ledger_resources,
    fake_credentials,
)
from tests.support.ledger import build_harness, lease_of, ledger_payload_hash, transaction
from tests.support.policies import POLLER, SQS_ACTIONS, TRANSACT_ITEM_ACTIONS, granted_actions

pytestmark = pytest.mark.infra


class Recorder:
    """Records every request of the clients it watches as (IAM action, resource role)."""

    def __init__(self, resources: LedgerResources) -> None:
        self.calls: set[tuple[str, str]] = set()
        self.strip_old_items = False
        self.throttle_ledger_once = False
        self._current_table: str | None = None
        self._roles = {
            resources.idempotency_table: "idempotency",
            resources.ledger_table: "ledger",
            resources.dlq_url: "dead letter",
            resources.queue_url: "source",
        }

    def watch(self, client: Any) -> Any:
        service = client.meta.service_model.service_name
        events = client.meta.events
        events.register(f"before-parameter-build.{service}.*", self._record)
        if service == "dynamodb":
            events.register("before-call.dynamodb.UpdateItem", self._maybe_throttle)
            events.register("after-call.dynamodb.TransactWriteItems", self._maybe_strip)
        return client

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        # Never raises: a hook error inside the effect would be swallowed as its failure.
        # What this table does not know is recorded as such, and the comparison shows it.
        service = model.metadata["endpointPrefix"]
        name = model.name
        if name == "TransactWriteItems":
            for item in params["TransactItems"]:
                for kind, body in item.items():
                    action = TRANSACT_ITEM_ACTIONS.get(kind, f"{kind}?")
                    self.calls.add((f"dynamodb:{action}", self._role(body.get("TableName"))))
        elif service == "dynamodb":
            self.calls.add((f"dynamodb:{name}", self._role(params.get("TableName"))))
        elif service == "sqs":
            action = SQS_ACTIONS.get(name, f"{name}?")
            self.calls.add((f"sqs:{action}", self._role(params.get("QueueUrl"))))
        else:
            self.calls.add((f"{service}:{name}", "unknown"))
        self._current_table = params.get("TableName")

    def _role(self, resource: str | None) -> str:
        return self._roles.get(resource or "", f"unknown resource {resource}")

    def _maybe_throttle(self, model: Any, **_: Any) -> None:
        if self.throttle_ledger_once and self._current_table == self._role_table("ledger"):
            self.throttle_ledger_once = False
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "test"}},
                model.name,
            )

    def _maybe_strip(self, parsed: dict[str, Any], **_: Any) -> None:
        # A cancellation whose reasons carry no old item: the consumer reads the record.
        if self.strip_old_items:
            for reason in parsed.get("CancellationReasons", []):
                reason.pop("Item", None)

    def _role_table(self, role: str) -> str:
        return next(name for name, r in self._roles.items() if r == role)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from fake_credentials(monkeypatch)


def run_every_path(mode: str) -> set[tuple[str, str]]:
    with mock_aws():
        resources = create_ledger_resources()
        recorder = Recorder(resources)
        dynamodb = recorder.watch(boto3.client("dynamodb", region_name=REGION))
        recorder.watch(resources.sqs)
        ledger = build_harness(
            resources, ManualClock(current=time.time()), dynamodb=dynamodb, EXACTLY_ONCE_MODE=mode
        )

        def outcomes(*messages: dict[str, Any] | str) -> list[str]:
            ledger.invoke(*messages)
            return sorted(ledger.outcomes().values())

        first = transaction("t-1", account_id="a", amount="1.00")
        assert outcomes(first, "not json") == ["invalid", "processed"]
        other_amount = transaction("t-1", account_id="a", amount="2.00")
        assert outcomes(first, other_amount) == ["conflict", "duplicate"]
        mixed = outcomes(transaction("t-2", account_id="b", amount="1.00"), first)
        assert mixed == ["duplicate", "processed"]
        recorder.strip_old_items = True  # atomic mode reads the record
        assert outcomes(first) == ["duplicate"]
        recorder.strip_old_items = False
        recorder.throttle_ledger_once = True  # leased mode releases its lease
        released = outcomes(transaction("t-3", account_id="c", amount="1.00"))
        assert released == (["processed"] if mode == "atomic" else ["failed"])
        held = transaction("t-4", account_id="d", amount="1.00")
        lease = lease_of(
            KeySpec("ledger-v1", "transaction_id").record_id_of(held),
            "another-invocation",
            ledger.clock.now(),
            seconds=600,
        )
        resources.dynamodb.put_item(  # the same message, leased by another invocation
            TableName=resources.idempotency_table,
            Item=replace(lease, payload_hash=ledger_payload_hash(held)).to_item(),
        )
        ledger.invoke(held)
        assert set(ledger.outcomes().values()) == {"in_progress"}, ledger.outcomes()
        return recorder.calls


def leased_ledger_template() -> dict[str, Any]:
    """The dev ledger stack with its consumer in leased mode (the app deploys it atomic)."""
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from exactly_once_cdk import ExactlyOnceMode
    from infra import LedgerStack

    stack = LedgerStack(App(), "LeasedLedger", retain_data=False, mode=ExactlyOnceMode.LEASED)
    return dict(Template.from_stack(stack).to_json())


def deployed_mode(template: dict[str, Any]) -> str:
    (function,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    ]
    return str(function["Properties"]["Environment"]["Variables"]["EXACTLY_ONCE_MODE"])


@pytest.mark.parametrize("mode", ["atomic", "leased"])
def test_the_role_grants_exactly_what_the_consumer_and_its_poller_call(
    aws: None, dev_stack: SynthesizedStack, mode: str
) -> None:
    # GIVEN the ledger stack as deployed in this mode (the app's dev stage is atomic)
    template = dev_stack.template if mode == "atomic" else leased_ledger_template()
    assert deployed_mode(template) == mode
    # WHEN every path of that mode runs, THEN the grants are exactly its calls
    observed = run_every_path(mode)
    granted = granted_actions(template)
    dynamodb_and_sqs = granted["AWS::DynamoDB::Table"] | granted["AWS::SQS::Queue"]
    missing = (observed | POLLER) - dynamodb_and_sqs
    assert not missing, f"calls AWS would refuse: {sorted(missing)}"
    unused = dynamodb_and_sqs - observed - POLLER
    assert not unused, f"granted but never called: {sorted(unused)}"
