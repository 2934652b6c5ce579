"""pytest fixtures for testing an exactly-once consumer locally.

Registered through the ``pytest11`` entry point (``exactly_once``), so installing
``exactly-once-sqs[local]`` makes the fixtures available to every test with no import;
``-p no:exactly_once`` turns the plugin off. Its import stays light: pytest loads it in
every run, so it pulls in neither moto nor boto3 nor the runtime package at module level;
each fixture imports what it needs when it runs.

Fixtures:

- ``lambda_context``: a ``LocalLambdaContext`` whose remaining time follows a
  ``ManualClock`` (``lambda_context.clock``): advance the clock to bring the deadline closer.
"""

from __future__ import annotations

import pytest

from exactly_once_local.lambda_context import LocalLambdaContext


@pytest.fixture
def lambda_context() -> LocalLambdaContext:
    """A Lambda context on a ``ManualClock``, with 30 s left until the clock moves."""
    from exactly_once.clock import ManualClock

    return LocalLambdaContext(clock=ManualClock())
