"""pytest fixtures for testing an exactly-once consumer locally.

Registered through the ``pytest11`` entry point (``exactly_once``), so installing
``exactly-once-sqs[local]`` makes the fixtures available to every test with no import;
``-p no:exactly_once`` turns the plugin off. Its import stays light: pytest loads it in
every run, so it pulls in neither moto nor boto3 nor the runtime package at module level;
each fixture imports what it needs when it runs.

Fixtures:

- ``exactly_once_aws``: in-process moto with fake credentials (nothing reaches AWS). Ask it
  for a consumer's resources: ``exactly_once_aws.consumer(key_prefix=..., key_path=...)``
  creates the source queue, its DLQ and the idempotency table from the construct's own
  definition; ``.table(...)`` on the result creates the effect's tables; ``.handler(effect)``
  is ``make_handler(effect)`` wired to them; ``.deliver(handler, *bodies)`` invokes it with
  an SQS event of AWS's shape; ``.dead_letters()`` reads the DLQ with the reasons.
- ``exactly_once_check``: ``check_exactly_once`` (see ``exactly_once_local.checker``) on
  this test's moto: it delivers a batch twice, and again after a crash before and after
  every DynamoDB call, and reports every world whose effect differs from one delivery.
- ``exactly_once_app`` (one per test module): the project's CDK app (the nearest
  ``cdk.json`` above the test file) synthesized and running on the local cloud, its SQS
  consumers polling; ``.send(queue, *bodies)``, ``.settle()``, ``.items(table)``,
  ``.output(name)``, ``.physical_id(construct_path)``, ``.client(service)``.
- ``manual_clock``: a ``ManualClock`` at the current time; ``advance(seconds)`` moves it.
- ``lambda_context``: a Lambda context whose remaining time follows ``manual_clock``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from exactly_once import ManualClock

    from .app_fixture import LocalApp
    from .checker import ExactlyOnceReport
    from .lambda_context import LocalLambdaContext
    from .moto_resources import ConsumerResources

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class LocalAws:
    """In-process moto: clients, and consumers' resources created on demand."""

    def __init__(self, region: str) -> None:
        import boto3

        self.region = region
        self.dynamodb = boto3.client("dynamodb", region_name=region)
        self.sqs = boto3.client("sqs", region_name=region)

    def consumer(
        self,
        *,
        key_prefix: str,
        key_path: str,
        mode: str = "atomic",
        fifo: bool = False,
        max_receive_count: int = 5,
    ) -> ConsumerResources:
        """A consumer's queues and idempotency table, as ``ExactlyOnceConsumer`` makes them."""
        from .moto_resources import create_consumer_resources

        return create_consumer_resources(
            self.dynamodb,
            self.sqs,
            key_prefix=key_prefix,
            key_path=key_path,
            mode=mode,
            fifo=fifo,
            max_receive_count=max_receive_count,
        )

    def client(self, service: str) -> Any:
        """Another moto-backed client in this region."""
        import boto3

        return boto3.client(service, region_name=self.region)


@pytest.fixture
def exactly_once_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    """In-process moto with fake credentials, for one test; gone afterwards."""
    from moto import mock_aws

    from .app_fixture import RUNNING
    from .moto_resources import REGION

    if RUNNING:
        raise pytest.UsageError(
            "exactly_once_aws cannot run beside exactly_once_app in one test module: both use "
            "this process's moto, and mock_aws would reset the deployed app. Put the tests of "
            "each kind in modules of their own."
        )

    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield LocalAws(REGION)


@pytest.fixture
def exactly_once_check(exactly_once_aws: LocalAws) -> Callable[..., ExactlyOnceReport]:
    """``check_exactly_once(fresh=..., bodies=..., observe=..., effect=...)`` on this
    test's moto; call ``.assert_ok()`` on what it returns."""
    from .checker import check_exactly_once

    return check_exactly_once


def _project_dir(start: Path) -> Path:
    for directory in [start, *start.parents]:
        if (directory / "cdk.json").exists():
            return directory
    raise pytest.UsageError(f"exactly_once_app: no cdk.json in {start} or above it")


@pytest.fixture(scope="module")
def exactly_once_app(request: pytest.FixtureRequest) -> Iterator[LocalApp]:
    """The project's CDK app on the local cloud, for the tests of one module."""
    from .app_fixture import deploy_app, stop_app

    app, outdir = deploy_app(_project_dir(Path(str(request.path)).parent))
    try:
        yield app
    finally:
        stop_app(app)
        outdir.cleanup()


@pytest.fixture
def manual_clock() -> ManualClock:
    """A clock that moves only when told to (``advance(seconds)``), from the current time."""
    from exactly_once import ManualClock

    return ManualClock(current=time.time())


@pytest.fixture
def lambda_context(manual_clock: ManualClock) -> LocalLambdaContext:
    """A Lambda context with 30 s left, its remaining time following ``manual_clock``."""
    from .lambda_context import LocalLambdaContext

    return LocalLambdaContext(clock=manual_clock)
