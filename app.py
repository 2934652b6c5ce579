#!/usr/bin/env python3
"""The CDK app: per stage (``cdk synth -c stage=dev|prod``), two pipelines, each a stack:
the ledger (``ExactlyOnceLedger-<stage>``) and the orders (``ExactlyOnceOrders-<stage>``),
chained: each accepted order sends its charge to the ledger's queue.
``cdk deploy``/``cdk destroy`` need ``--all`` (or the stack names); ``make deploy`` passes it.

Every alarm goes to an SNS topic. The prod stage refuses to synth unless someone receives
them: ``-c alarm_email=you@example.com`` (subscribed to each consumer's own topic) or
``-c alarm_topic_arn=arn:aws:sns:...`` (an existing topic); dev takes either, or neither.

Every stage-specific value lives here, and only here; constructs take them as props.
cdk-nag's AwsSolutions checks run on every synth: a finding fails it. cdk.json sets every
feature flag to its recommended value (``cdk flags --unstable=flags --set --recommended
--all``; only the IAM policy's statement order and shape changed); after a CDK upgrade,
rerun it if synth reports unconfigured flags again.
"""

from __future__ import annotations

import os
import re
import weakref
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from exactly_once_cdk import ExactlyOnceMode
from infra import LedgerStack, OrdersStack

DEFAULT_REGION = "eu-west-1"
# The ledger remembers a charge for as long as orders can send it again: the orders'
# idempotency retention (19 days: a duplicate order re-sends its charge until then) plus
# the ledger's own redelivery window (19 days: the re-sent charge's queue, DLQ and margin).
# ``ExactlyOnceConsumer.send_to`` refuses anything shorter.
LEDGER_RETENTION_DAYS = 38
SNS_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+")


# The apps cdk-nag's AwsSolutions checks are already registered on: a second registration
# would run every rule twice and report every finding twice.
_NAGGED_APPS: weakref.WeakSet[cdk.App] = weakref.WeakSet()


@dataclass(frozen=True)
class Stage:
    """What differs between stages (the same for both pipelines, but ``mode``)."""

    name: str
    retain_data: bool
    max_concurrency: int
    log_retention: logs.RetentionDays
    mode: ExactlyOnceMode = ExactlyOnceMode.ATOMIC  # the ledger's; orders is always atomic
    fifo: bool = False
    requires_alarm_target: bool = False  # refuse to synth unless someone gets the alarms

    @property
    def ledger_stack_name(self) -> str:
        return f"ExactlyOnceLedger-{self.name}"

    @property
    def orders_stack_name(self) -> str:
        return f"ExactlyOnceOrders-{self.name}"

    @property
    def stack_names(self) -> tuple[str, ...]:
        """Every stack of the stage, in the order ``main`` adds them."""
        return (self.ledger_stack_name, self.orders_stack_name)


STAGES: dict[str, Stage] = {
    "dev": Stage(
        name="dev",
        retain_data=False,
        max_concurrency=2,
        log_retention=logs.RetentionDays.ONE_WEEK,
    ),
    "prod": Stage(
        name="prod",
        retain_data=True,
        max_concurrency=10,
        log_retention=logs.RetentionDays.THREE_MONTHS,
        requires_alarm_target=True,
    ),
}


@dataclass(frozen=True)
class AlarmTarget:
    """Who receives the alarms: an email subscribed to each consumer's own topic, or an
    existing topic (``-c alarm_email=...`` / ``-c alarm_topic_arn=...``)."""

    email: str | None = None
    topic_arn: str | None = None

    @classmethod
    def from_context(cls, app: cdk.App) -> AlarmTarget:
        email = app.node.try_get_context("alarm_email")
        topic_arn = app.node.try_get_context("alarm_topic_arn")
        return cls(
            email=str(email) if email else None, topic_arn=str(topic_arn) if topic_arn else None
        )

    @property
    def given(self) -> bool:
        return bool(self.email or self.topic_arn)


def alarm_target_for(app: cdk.App, stage_name: str) -> AlarmTarget:
    """The alarm target in ``app``'s context; exits with one line saying what to pass when
    the stage requires one and there is none, or the topic ARN is not a topic's."""
    stage = stage_named(stage_name)
    target = AlarmTarget.from_context(app)
    if stage.requires_alarm_target and not target.given:
        raise SystemExit(
            f"stage {stage.name} needs someone to receive its alarms: pass "
            "-c alarm_email=you@example.com (subscribed to the alarm topics) or "
            "-c alarm_topic_arn=arn:aws:sns:REGION:ACCOUNT:TOPIC (an existing topic)"
        )
    if target.topic_arn is not None and not SNS_TOPIC_ARN.fullmatch(target.topic_arn):
        raise SystemExit(
            f"alarm_topic_arn {target.topic_arn!r} is not an SNS topic ARN: pass "
            "-c alarm_topic_arn=arn:aws:sns:REGION:ACCOUNT:TOPIC"
        )
    if target.email is not None and "@" not in target.email:
        raise SystemExit(
            f"alarm_email {target.email!r} is not an email address: pass "
            "-c alarm_email=you@example.com"
        )
    return target


def stage_named(stage_name: str) -> Stage:
    """The stage called ``stage_name``; exits with the valid names if there is none."""
    try:
        return STAGES[stage_name]
    except KeyError:
        raise SystemExit(
            f"unknown stage {stage_name!r}: pass -c stage=<one of {sorted(STAGES)}>"
        ) from None


def _finish(app: cdk.App, stack: cdk.Stack, stage: Stage) -> None:
    """What every stack of the app gets: the tags, and cdk-nag on the app (once)."""
    cdk.Tags.of(stack).add("project", "exactly-once-sqs")
    cdk.Tags.of(stack).add("stage", stage.name)
    add_nag_checks(app)


def add_ledger_stack(
    app: cdk.App,
    stage_name: str,
    *,
    account: str | None = None,
    region: str = DEFAULT_REGION,
    alarms: AlarmTarget | None = None,
) -> LedgerStack:
    """Add the stage's ledger stack to ``app`` and cdk-nag's checks (once per app).

    ``account`` None leaves the stack account-agnostic (resolved at deploy time).
    ``alarms`` None reads the target from ``app``'s context (none: the consumer's own
    topic, unsubscribed; ``main`` refuses that for prod).
    """
    stage = stage_named(stage_name)
    stack = LedgerStack(
        app,
        stage.ledger_stack_name,
        mode=stage.mode,
        idempotency_retention=cdk.Duration.days(LEDGER_RETENTION_DAYS),
        **_stack_props(app, stage, "ledger", account, region, alarms),
    )
    _finish(app, stack, stage)
    return stack


def add_orders_stack(
    app: cdk.App,
    stage_name: str,
    *,
    account: str | None = None,
    region: str = DEFAULT_REGION,
    alarms: AlarmTarget | None = None,
    ledger: LedgerStack | None = None,
) -> OrdersStack:
    """Add the stage's orders stack to ``app`` and cdk-nag's checks (once per app).

    ``account`` and ``alarms`` as for ``add_ledger_stack``. ``ledger``: the stage's ledger
    stack, which each accepted order's charge is sent to (None: orders are not charged).
    """
    stage = stage_named(stage_name)
    stack = OrdersStack(
        app,
        stage.orders_stack_name,
        charges_to=ledger.consumer if ledger is not None else None,
        **_stack_props(app, stage, "orders", account, region, alarms),
    )
    _finish(app, stack, stage)
    return stack


def _stack_props(
    app: cdk.App,
    stage: Stage,
    pipeline: str,
    account: str | None,
    region: str,
    alarms: AlarmTarget | None,
) -> dict[str, Any]:
    """What every stack of a stage takes from the stage: place, data, scale, alarm target."""
    alarms = alarms or AlarmTarget.from_context(app)
    return {
        "env": cdk.Environment(account=account, region=region),
        "description": f"Exactly-once SQS {pipeline} pipeline ({stage.name})",
        "retain_data": stage.retain_data,
        "fifo": stage.fifo,
        "max_concurrency": stage.max_concurrency,
        "log_retention": stage.log_retention,
        "alarm_email": alarms.email,
        "alarm_topic_arn": alarms.topic_arn,
    }


def add_stacks(
    app: cdk.App,
    stage_name: str,
    *,
    account: str | None = None,
    region: str = DEFAULT_REGION,
    alarms: AlarmTarget | None = None,
) -> tuple[LedgerStack, OrdersStack]:
    """Add every stack of the stage to ``app``: what ``cdk synth`` and ``cdk deploy`` see.
    The orders stack charges its orders to the ledger (so it depends on the ledger stack)."""
    ledger = add_ledger_stack(app, stage_name, account=account, region=region, alarms=alarms)
    orders = add_orders_stack(
        app, stage_name, account=account, region=region, alarms=alarms, ledger=ledger
    )
    return ledger, orders


def add_nag_checks(app: cdk.App) -> None:
    """Register cdk-nag's AwsSolutions and Serverless checks on ``app``, once however often
    it is called."""
    if app in _NAGGED_APPS:
        return
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    _NAGGED_APPS.add(app)


def main() -> None:
    app = cdk.App()
    stage = str(app.node.try_get_context("stage") or "dev")
    # The account only when given (offline synth needs none); the region as given, else the
    # CLI's environment (CDK_DEFAULT_REGION, from the profile), else a fixed one offline.
    account = app.node.try_get_context("account")
    region = str(
        app.node.try_get_context("region") or os.environ.get("CDK_DEFAULT_REGION") or DEFAULT_REGION
    )
    alarms = alarm_target_for(app, stage)
    add_stacks(app, stage, account=account, region=region, alarms=alarms)
    app.synth()


if __name__ == "__main__":
    main()
