"""One call from an effect to a Lambda handler: ``lambda_handler = make_handler(MyEffect)``.

Everything else comes from the function's environment, which the CDK construct sets
(``IDEMPOTENCY_TABLE_NAME``, ``DEAD_LETTER_QUEUE_URL``, ``IDEMPOTENCY_KEY_PREFIX``,
``IDEMPOTENCY_KEY_PATH``, ``IDEMPOTENCY_RETENTION_SECONDS``, ``LEASE_MAX_SECONDS``,
``EXACTLY_ONCE_MODE``, ``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``).
Nothing is read or built at import: the first invocation builds the clients, the Powertools
Logger and Metrics and the consumer, and later invocations of the warm container reuse them.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from typing import Any

# botocore, not boto3: the layer needs only clients, and importing boto3 adds s3transfer,
# concurrent.futures and multiprocessing, about 20 ms of CPU on every cold start. Before
# Powertools, the recipe's order (`python -m bench` counts the page faults it touches).
# Clients are still built at first use, after a test's mocks.
import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from .atomic import AtomicConsumer
from .batch import Consumer, ExactlyOnceBatchHandler
from .clients import LazyClient
from .clock import Clock, SystemClock
from .config import ExactlyOnceConfig
from .dead_letters import DeadLetterQueue
from .errors import ConfigurationError
from .messages import Decision
from .telemetry import Telemetry

MODES = ("atomic", "leased")
DEFAULT_METRICS_NAMESPACE = "ExactlyOnce"


class Setup:
    """What an effect factory gets: the function's environment, its DynamoDB client, and
    clients for other services from the layer's own botocore session."""

    def __init__(
        self,
        environ: Mapping[str, str],
        dynamodb: Any,
        mode: str,
        client: Callable[[str], Any] | None = None,
    ) -> None:
        self.environ = environ
        self.dynamodb = dynamodb
        self.mode = mode
        self._client = client

    def client(self, service: str) -> Any:
        """A botocore client for ``service`` (``"sns"``, ``"events"``, ...): the client
        ``boto3.client(service)`` gives, without importing boto3 (15 to 20 ms of a cold
        start), from the session the layer's clients share, whose data files are already
        read. Not for S3 or EC2 if you need what boto3 adds to them (``upload_file``, ...)."""
        if self._client is None:
            return botocore.session.get_session().create_client(service)
        return self._client(service)

    def env(self, name: str) -> str:
        """A required environment variable (set it with the construct's ``environment``)."""
        value = self.environ.get(name, "").strip()
        if not value:
            raise ConfigurationError(f"environment variable {name} is not set")
        return value


# An effect object, or a function from the Setup to one (to read tables, take a client).
EffectSource = Any | Callable[[Setup], Any]


class ExactlyOnceHandler:
    """The Lambda entry point of an exactly-once SQS consumer: ``handler(event, context)``.

    Attributes for tests and tools: ``dynamodb`` (the client, built on first use),
    ``last_decisions`` (message id to outcome, of the last batch), ``logger``.
    """

    def __init__(
        self,
        effect: EffectSource,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        dynamodb: Any = None,
        sqs: Any = None,
        logger: Logger | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._effect_source = effect
        self._environ = environ
        self._clock = clock
        self._dynamodb = dynamodb
        self._sqs = sqs
        self._logger = logger
        self._metrics = metrics
        self._batch_handler: ExactlyOnceBatchHandler | None = None
        self._entry: Callable[[Any, Any], dict[str, Any]] | None = None
        self._session: botocore.session.Session | None = None

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = self._client("dynamodb")
        return self._dynamodb

    @property
    def sqs(self) -> Any:
        """The SQS client for dead letters and downstream sends, built at first use."""
        if self._sqs is None:
            self._sqs = self._client("sqs")
        return self._sqs

    def _client(self, service: str) -> Any:
        # One botocore session for both clients, so they share its credentials and the
        # data files it has read; region and credentials come from the environment, as
        # boto3.client(service) would take them.
        if self._session is None:
            self._session = botocore.session.get_session()
        return self._session.create_client(service)

    @property
    def logger(self) -> Logger:
        if self._logger is None:
            self._logger = Logger(service=self.environ.get("POWERTOOLS_SERVICE_NAME"))
        return self._logger

    @property
    def metrics(self) -> Metrics:
        if self._metrics is None:
            namespace = self.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_METRICS_NAMESPACE)
            self._metrics = Metrics(namespace=namespace)
        return self._metrics

    @property
    def last_decisions(self) -> dict[str, Decision]:
        return self._batch_handler.last_decisions if self._batch_handler else {}

    def build(self) -> ExactlyOnceBatchHandler:
        """Read the configuration and wire the consumer (done by the first invocation)."""
        if self._batch_handler is None:
            environ = self.environ
            config = ExactlyOnceConfig.from_env(environ)
            mode = environ.get("EXACTLY_ONCE_MODE", "atomic").strip() or "atomic"
            if mode not in MODES:
                raise ConfigurationError(f"EXACTLY_ONCE_MODE must be one of {MODES}, got {mode!r}")
            setup = Setup(environ, self.dynamodb, mode, client=self._client)
            effect = _effect_from(self._effect_source, setup)
            sqs = self._sqs if self._sqs is not None else LazyClient(lambda: self.sqs)
            self._batch_handler = ExactlyOnceBatchHandler(
                consumer=self._consumer(config, mode, effect),
                dead_letters=DeadLetterQueue(sqs, config.dead_letter_queue_url),
                telemetry=Telemetry(self.logger, self.metrics),
            )
        return self._batch_handler

    def _consumer(self, config: ExactlyOnceConfig, mode: str, effect: Any) -> Consumer:
        clock = self._clock or SystemClock()
        name = type(effect).__name__
        if mode == "atomic":
            if not callable(getattr(effect, "writes", None)):
                raise ConfigurationError(
                    f"EXACTLY_ONCE_MODE is atomic but {name} has no writes(message): give it "
                    "one, or deploy it with mode=LEASED if it has apply()"
                )
            return AtomicConsumer(config=config, client=self.dynamodb, effect=effect, clock=clock)
        if not callable(getattr(effect, "apply", None)):
            raise ConfigurationError(
                f"EXACTLY_ONCE_MODE is leased but {name} has no apply(message, key, attempt): "
                "give it one, or deploy it with mode=ATOMIC if it has writes()"
            )
        from .leased import LeasedConsumer  # here: an atomic consumer never loads it

        return LeasedConsumer(config=config, client=self.dynamodb, effect=effect, clock=clock)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if self._entry is None:
            batch_handler = self.build()
            self._entry = self.metrics.log_metrics(
                self.logger.inject_lambda_context(batch_handler.__call__)
            )
        try:
            return self._entry(event, context)
        finally:
            # Powertools 3.37 skips clearing a disabled Metrics' values on flush, then prints
            # the whole set once a metric holds 100 values, flag or not: drop them here.
            if is_metrics_disabled():
                self.metrics.clear_metrics()


def _effect_from(source: Any, setup: Setup) -> Any:
    """The effect: ``source`` itself, or what a factory (a class or function) makes of the
    Setup; a class whose constructor takes nothing is simply instantiated."""
    if isinstance(source, type):
        try:
            takes_nothing = not inspect.signature(source).parameters
        except (TypeError, ValueError):  # a signature Python cannot read: give it the Setup
            takes_nothing = False
        return source() if takes_nothing else source(setup)
    if callable(source) and not hasattr(source, "parse"):
        return source(setup)
    return source


def make_handler(
    effect: EffectSource,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    dynamodb: Any = None,
    sqs: Any = None,
    logger: Logger | None = None,
    metrics: Metrics | None = None,
) -> ExactlyOnceHandler:
    """The Lambda handler for an exactly-once SQS consumer whose business is ``effect``.

    :param effect: an effect object (``parse`` and ``writes`` for atomic mode, ``parse`` and
        ``apply`` for leased mode), or a function or class taking a ``Setup`` and returning
        one (to read its table names from the environment, or use the DynamoDB client).
    :param environ: the configuration; default ``os.environ`` (what the construct sets).
    :param clock: the clock the protocol reads; default the system clock. Tests pass a
        ``ManualClock`` to move time.
    :param dynamodb: the DynamoDB client; default a botocore client, like
        ``boto3.client("dynamodb")``, built at first use.
    :param sqs: the SQS client for dead letters; default built at the first dead letter.
    :param logger: a Powertools Logger; default one named by ``POWERTOOLS_SERVICE_NAME``.
    :param metrics: Powertools Metrics; default in ``POWERTOOLS_METRICS_NAMESPACE``.
    """
    return ExactlyOnceHandler(
        effect,
        environ=environ,
        clock=clock,
        dynamodb=dynamodb,
        sqs=sqs,
        logger=logger,
        metrics=metrics,
    )
