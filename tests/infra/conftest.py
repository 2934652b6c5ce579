"""Shared synths: aws-cdk-lib takes 4-6 s to load in a process, each synth after under 1 s."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from app import STAGES
from exactly_once_cdk import ExactlyOnceConsumer
from pipeline.stack import SynthesizedStack, cached_app_stacks, cached_ledger_stack

INLINE_CODE = "def handler(event, context):\n    return {'batchItemFailures': []}\n"

ConsumerFactory = Callable[..., tuple[Stack, ExactlyOnceConsumer]]


def consumer_props(**overrides: Any) -> dict[str, Any]:
    """The props every test consumer needs, with ``overrides`` applied."""
    props: dict[str, Any] = {
        "code": lambda_.Code.from_inline(INLINE_CODE),
        "handler": "index.handler",
        "service_name": "orders",
        "key_prefix": "orders-v1",
        "key_path": "order_id",
    }
    props.update(overrides)
    return props


def build_consumer(**overrides: Any) -> tuple[Stack, ExactlyOnceConsumer]:
    """GIVEN a bare stack with one consumer built from ``overrides``."""
    stack = Stack(App(), "TestStack")
    consumer = ExactlyOnceConsumer(stack, "Consumer", **consumer_props(**overrides))
    return stack, consumer


@pytest.fixture(scope="session")
def standard_consumer() -> tuple[Template, ExactlyOnceConsumer]:
    stack, consumer = build_consumer()
    return Template.from_stack(stack), consumer


@pytest.fixture(scope="session")
def fifo_consumer() -> tuple[Template, ExactlyOnceConsumer]:
    stack, consumer = build_consumer(fifo=True)
    return Template.from_stack(stack), consumer


@pytest.fixture(scope="session")
def dev_stack() -> SynthesizedStack:
    """The app's dev stack, synthesized as ``cdk synth`` does (cdk-nag included)."""
    return cached_ledger_stack("dev")


@pytest.fixture(scope="session")
def prod_stack() -> SynthesizedStack:
    return cached_ledger_stack("prod")


@pytest.fixture(scope="session")
def dev_template(dev_stack: SynthesizedStack) -> Template:
    return Template.from_json(dev_stack.template)


@pytest.fixture(scope="session")
def prod_template(prod_stack: SynthesizedStack) -> Template:
    return Template.from_json(prod_stack.template)


def orders_stack_of(stage: str) -> SynthesizedStack:
    """The stage's orders stack, synthesized with the whole app as ``cdk synth`` does."""
    by_name = {synthesized.stack_name: synthesized for synthesized in cached_app_stacks(stage)}
    return by_name[STAGES[stage].orders_stack_name]


@pytest.fixture(scope="session")
def orders_dev_stack() -> SynthesizedStack:
    """The app's dev orders stack (synthesized beside the ledger's, cdk-nag included)."""
    return orders_stack_of("dev")


@pytest.fixture(scope="session")
def orders_prod_stack() -> SynthesizedStack:
    return orders_stack_of("prod")


@pytest.fixture(scope="session")
def orders_dev_template(orders_dev_stack: SynthesizedStack) -> Template:
    return Template.from_json(orders_dev_stack.template)


@pytest.fixture(scope="session")
def orders_prod_template(orders_prod_stack: SynthesizedStack) -> Template:
    return Template.from_json(orders_prod_stack.template)
