#!/usr/bin/env python3
"""The CDK app: one ledger stack per stage (``cdk synth -c stage=dev|prod``).

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
from infra import LedgerStack

DEFAULT_REGION = "eu-west-1"
# The number itself lives in exactly_once_cdk/consumer.py (the one source of truth);
# check it against the Powertools docs ("Lambda Layer") before a real deploy.
POWERTOOLS_LAYER_VERSION = DEFAULT_POWERTOOLS_LAYER_VERSION


# The apps cdk-nag's AwsSolutions checks are already registered on: a second registration
# would run every rule twice and report every finding twice.
_NAGGED_APPS: weakref.WeakSet[cdk.App] = weakref.WeakSet()


@dataclass(frozen=True)
class Stage:
    """What differs between stages."""

    name: str
    retain_data: bool
    max_concurrency: int
    log_retention: logs.RetentionDays
    mode: ExactlyOnceMode = ExactlyOnceMode.ATOMIC
    fifo: bool = False

    @property
    def stack_name(self) -> str:
        return f"ExactlyOnceLedger-{self.name}"


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


def add_ledger_stack(
    app: cdk.App, stage_name: str, *, account: str | None = None, region: str = DEFAULT_REGION
) -> LedgerStack:
    """Add the stage's ledger stack to ``app`` and cdk-nag's AwsSolutions checks (once per app).

    ``account`` None leaves the stack account-agnostic (resolved at deploy time).
    """
    try:
        stage = STAGES[stage_name]
    except KeyError:
        raise SystemExit(
            f"unknown stage {stage_name!r}: pass -c stage=<one of {sorted(STAGES)}>"
        ) from None
    stack = LedgerStack(
        app,
        stage.stack_name,
        env=cdk.Environment(account=account, region=region),
        description=f"Exactly-once SQS ledger pipeline ({stage.name})",
        retain_data=stage.retain_data,
        mode=stage.mode,
        fifo=stage.fifo,
        max_concurrency=stage.max_concurrency,
        log_retention=stage.log_retention,
        powertools_layer_version=POWERTOOLS_LAYER_VERSION,
    )
    cdk.Tags.of(stack).add("project", "exactly-once-sqs")
    cdk.Tags.of(stack).add("stage", stage.name)
    add_nag_checks(app)
    return stack


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
    add_ledger_stack(app, stage, account=account, region=region)
    app.synth()


if __name__ == "__main__":
    main()
