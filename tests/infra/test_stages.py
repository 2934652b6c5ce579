"""Chained consumers (``ExactlyOnceConsumer.send_to``): the grant, and the memory rule."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Template

from exactly_once_cdk import ExactlyOnceConsumer, GuaranteeViolation

from .conftest import consumer_props

pytestmark = pytest.mark.infra


def two_stages(
    next_retention_days: int | None,
) -> tuple[Stack, ExactlyOnceConsumer, ExactlyOnceConsumer]:
    stack = Stack(App(), "Stages")
    ledger = ExactlyOnceConsumer(
        stack,
        "Ledger",
        **consumer_props(
            service_name="ledger",
            key_prefix="ledger-v1",
            key_path="transaction_id",
            idempotency_retention=(
                Duration.days(next_retention_days) if next_retention_days is not None else None
            ),
        ),
    )
    orders = ExactlyOnceConsumer(stack, "Orders", **consumer_props())
    return stack, orders, ledger


def test_the_next_stage_must_remember_what_this_one_can_send_again() -> None:
    # GIVEN both stages with the default retention (19 days each)
    _, orders, ledger = two_stages(None)
    # WHEN orders may send to the ledger THEN it is refused, saying what to change
    with pytest.raises(GuaranteeViolation) as refused:
        orders.send_to(ledger)
    message = str(refused.value)
    assert "Stages/Ledger: idempotency_retention is 19 days" in message
    assert "raise the next stage's idempotency_retention to at least 3283200 s" in message
    assert "Duration.days(38)" in message


def test_a_stage_may_send_to_the_next_stage_queue_only() -> None:
    # GIVEN a ledger that remembers 38 days: orders' 19 + the ledger's redelivery window 19
    stack, orders, ledger = two_stages(38)
    # WHEN orders sends to it, its URL in CHARGES_QUEUE_URL
    queue = orders.send_to(ledger, environment_variable="CHARGES_QUEUE_URL")
    template = Template.from_stack(stack).to_json()
    # THEN the orders role may SendMessage on the ledger's source queue, nothing else of it
    assert queue is ledger.queue
    ledger_queue = stack.get_logical_id(ledger.queue.node.default_child)
    orders_policy = next(
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        and r["Properties"]["Roles"]
        == [{"Ref": stack.get_logical_id(orders.role.node.default_child)}]
    )
    on_ledger = [s for s in orders_policy if "Ledger" in json.dumps(s["Resource"])]
    assert on_ledger == [
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [ledger_queue, "Arn"]},
        }
    ]
    variables = template["Resources"][stack.get_logical_id(orders.function.node.default_child)][
        "Properties"
    ]["Environment"]["Variables"]
    assert variables["CHARGES_QUEUE_URL"] == {"Ref": ledger_queue}


def test_the_queue_url_may_not_take_a_variable_of_the_constructs_own() -> None:
    from exactly_once_cdk import InvalidConsumerSettings

    _, orders, ledger = two_stages(38)
    with pytest.raises(InvalidConsumerSettings, match="would override the construct's own"):
        orders.send_to(ledger, environment_variable="DEAD_LETTER_QUEUE_URL")
