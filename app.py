#!/usr/bin/env python3
"""The CDK app: per stage (``cdk synth -c stage=dev|prod``), two pipelines, each a stack:
the ledger (``ExactlyOnceLedger-<stage>``) and the orders (``ExactlyOnceOrders-<stage>``).
``cdk deploy``/``cdk destroy`` need ``--all`` (or the stack names); ``make deploy`` passes it.

Every stage-specific value lives here, and only here; constructs take them as props.
cdk-nag's AwsSolutions checks run on every synth: a finding fails it. cdk.json sets every
feature flag to its recommended value (``cdk flags --unstable=flags --set --recommended
--all``; only the IAM policy's statement order and shape changed); after a CDK upgrade,
rerun it if synth reports unconfigured flags again.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from cdk_nag import AwsSolutionsChecks

from exactly_once_cdk import DEFAULT_POWERTOOLS_LAYER_VERSION, ExactlyOnceMode
from infra import LedgerStack, OrdersStack

DEFAULT_REGION = "eu-west-1"
# The number itself lives in exactly_once_cdk/consumer.py (the one source of truth);
# check it against the Powertools docs ("Lambda Layer") before a real deploy.
POWERTOOLS_LAYER_VERSION = DEFAULT_POWERTOOLS_LAYER_VERSION


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
    ),
}


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
    app: cdk.App, stage_name: str, *, account: str | None = None, region: str = DEFAULT_REGION
) -> LedgerStack:
    """Add the stage's ledger stack to ``app`` and cdk-nag's AwsSolutions checks (once per app).

    ``account`` None leaves the stack account-agnostic (resolved at deploy time).
    """
    stage = stage_named(stage_name)
    stack = LedgerStack(
        app,
        stage.ledger_stack_name,
        env=cdk.Environment(account=account, region=region),
        description=f"Exactly-once SQS ledger pipeline ({stage.name})",
        retain_data=stage.retain_data,
        mode=stage.mode,
        fifo=stage.fifo,
        max_concurrency=stage.max_concurrency,
        log_retention=stage.log_retention,
        powertools_layer_version=POWERTOOLS_LAYER_VERSION,
    )
    _finish(app, stack, stage)
    return stack


def add_orders_stack(
    app: cdk.App, stage_name: str, *, account: str | None = None, region: str = DEFAULT_REGION
) -> OrdersStack:
    """Add the stage's orders stack to ``app`` and cdk-nag's AwsSolutions checks (once per app).

    ``account`` None leaves the stack account-agnostic (resolved at deploy time).
    """
    stage = stage_named(stage_name)
    stack = OrdersStack(
        app,
        stage.orders_stack_name,
        env=cdk.Environment(account=account, region=region),
        description=f"Exactly-once SQS orders pipeline ({stage.name})",
        retain_data=stage.retain_data,
        fifo=stage.fifo,
        max_concurrency=stage.max_concurrency,
        log_retention=stage.log_retention,
        powertools_layer_version=POWERTOOLS_LAYER_VERSION,
    )
    _finish(app, stack, stage)
    return stack


def add_stacks(
    app: cdk.App, stage_name: str, *, account: str | None = None, region: str = DEFAULT_REGION
) -> tuple[LedgerStack, OrdersStack]:
    """Add every stack of the stage to ``app``: what ``cdk synth`` and ``cdk deploy`` see."""
    return (
        add_ledger_stack(app, stage_name, account=account, region=region),
        add_orders_stack(app, stage_name, account=account, region=region),
    )


def add_nag_checks(app: cdk.App) -> None:
    """Register cdk-nag's AwsSolutions checks on ``app``, once however often it is called."""
    if app in _NAGGED_APPS:
        return
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    _NAGGED_APPS.add(app)


def main() -> None:
    app = cdk.App()
    stage = str(app.node.try_get_context("stage") or "dev")
    # Explicit, never taken from whatever credentials happen to be around: offline synth
    # needs none, and a stage lands where it is told to.
    account = app.node.try_get_context("account")
    region = str(app.node.try_get_context("region") or DEFAULT_REGION)
    add_stacks(app, stage, account=account, region=region)
    app.synth()


if __name__ == "__main__":
    main()
