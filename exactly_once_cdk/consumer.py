"""``ExactlyOnceConsumer``: one SQS-triggered Lambda consumer with its idempotency table.

The construct owns everything whose settings decide whether the exactly-once guarantee
holds (queue retentions, visibility timeout, function timeout, record retention) and
refuses, at synth time, any combination under which a redelivered message could outlive
its idempotency record (docs/protocol.md, "Invariants the construct enforces").

One message's redelivery window (the longest a copy can still reach the consumer)::

    enqueued          source retention ends       DLQ retention ends (+ redrive)
    |--- source queue ---------|--- dead-letter queue ---------|-- margin --|
    |--- idempotency record must still be live until here ----------------->|
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IConstruct

from .code import runtime_layer_code
from .existing import read_queue, table_problems

# The Powertools release whose public layer the function gets: the exact version this
# project's runtime is tested with (the repository's functions/requirements.txt pins the same one;
# tests/infra/test_construct_settings.py fails if they differ). A constant, not read from
# functions/requirements.txt: the construct ships in the wheel, without it.
DEFAULT_POWERTOOLS_VERSION = "3.37.0"
# AWS publishes each Powertools layer's ARN, per architecture, Python version and release,
# as a public SSM parameter; CloudFormation resolves it at deploy time, in the stack's region.
POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/{architecture}/{python}/{version}"
_POWERTOOLS_V3_RELEASE = re.compile(r"3\.\d+\.\d+")

# The Python versions both Lambda and the Powertools v3 layer support; the newest by default.
SUPPORTED_RUNTIMES = (
    lambda_.Runtime.PYTHON_3_12,
    lambda_.Runtime.PYTHON_3_13,
    lambda_.Runtime.PYTHON_3_14,
)
DEFAULT_RUNTIME = lambda_.Runtime.PYTHON_3_14

# The outcomes the consumer counts, one metric each (``exactly_once.Outcome``, in its order).
OUTCOME_METRICS = (
    "processed",
    "duplicate",
    "in_progress",
    "conflict",
    "invalid",
    "refused",
    "failed",
)

# Fixed by the runtime's record layout (``exactly_once.records``).
IDEMPOTENCY_PARTITION_KEY = "id"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"

VISIBILITY_TIMEOUT_FACTOR = 6  # AWS guidance for SQS event sources
MAX_QUEUE_RETENTION_SECONDS = 14 * 24 * 3600
MAX_FIFO_BATCH_SIZE = 10
MAX_STANDARD_BATCH_SIZE = 10_000
# A standard queue's event source takes more than 10 messages a batch only with a batching
# window of at least 1 s (AWS rejects the mapping otherwise); no window may exceed 300 s.
MAX_UNBATCHED_BATCH_SIZE = 10
MIN_BATCHING_WINDOW_FOR_LARGE_BATCHES_SECONDS = 1
MAX_BATCHING_WINDOW_SECONDS = 300

# Environment variables the construct sets; callers may not override them.
RESERVED_ENVIRONMENT = frozenset(
    {
        "IDEMPOTENCY_TABLE_NAME",
        "DEAD_LETTER_QUEUE_URL",
        "IDEMPOTENCY_KEY_PREFIX",
        "IDEMPOTENCY_KEY_PATH",
        "IDEMPOTENCY_RETENTION_SECONDS",
        "LEASE_MAX_SECONDS",
        "EXACTLY_ONCE_MODE",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
    }
)


class ExactlyOnceMode(enum.Enum):
    """How the consumer makes its effect exactly-once (``EXACTLY_ONCE_MODE``)."""

    ATOMIC = "atomic"  # effect and record in one DynamoDB transaction
    LEASED = "leased"  # lease, effect, then complete (effects outside DynamoDB)


# What each mode does to its idempotency records (see the grant below).
RECORD_ACTIONS: Mapping[ExactlyOnceMode, tuple[str, ...]] = {
    ExactlyOnceMode.ATOMIC: ("dynamodb:GetItem", "dynamodb:PutItem"),
    ExactlyOnceMode.LEASED: ("dynamodb:UpdateItem",),
}


class InvalidConsumerSettings(ValueError):
    """Settings the construct refuses at synth: AWS would reject them (batch size, batching
    window, concurrency, receive count) or, as ``GuaranteeViolation``, the guarantee breaks.

    The message lists every problem found, each naming the value to change.
    """


class GuaranteeViolation(InvalidConsumerSettings):
    """A configuration under which a message could be processed twice or lost."""


def idempotency_table(
    scope: Construct,
    construct_id: str,
    *,
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    deletion_protection: bool = True,
) -> dynamodb.Table:
    """The idempotency table as the runtime reads it: the one definition, used by the
    construct and by the local test tooling (which creates it in moto from this).

    Kept by default (RETAIN, deletion protection on): losing the records loses the memory
    that makes a redelivery harmless. Pass ``removal_policy=RemovalPolicy.DESTROY,
    deletion_protection=False`` for a table that may go with its stack.
    """
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(
            name=IDEMPOTENCY_PARTITION_KEY, type=dynamodb.AttributeType.STRING
        ),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        # Garbage collection only: expiry is checked in the condition expressions.
        time_to_live_attribute=IDEMPOTENCY_TTL_ATTRIBUTE,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        removal_policy=removal_policy,
        deletion_protection=deletion_protection,
    )


def powertools_layer_parameter(
    *,
    runtime: lambda_.Runtime,
    architecture: lambda_.Architecture,
    version: str = DEFAULT_POWERTOOLS_VERSION,
) -> str:
    """The public SSM parameter holding the ARN of the Powertools v3 layer for ``runtime``,
    ``architecture`` and release ``version``, e.g.
    ``/aws/service/powertools/python/arm64/python3.14/3.37.0``."""
    arch = "arm64" if architecture.name == lambda_.Architecture.ARM_64.name else "x86_64"
    return POWERTOOLS_LAYER_PARAMETER.format(
        architecture=arch, python=runtime.name, version=version
    )


def _runtime_problems(runtime: lambda_.Runtime, powertools_version: str) -> list[str]:
    """What the function's runtime and Powertools layer settings get wrong."""
    found: list[str] = []
    supported = [r.name for r in SUPPORTED_RUNTIMES]
    if runtime.name not in supported:
        found.append(
            f"runtime is {runtime.name}: use one of {', '.join(supported)} (the Python "
            "versions both Lambda and the Powertools v3 layer support), or leave it unset "
            f"for {DEFAULT_RUNTIME.name}"
        )
    if not _POWERTOOLS_V3_RELEASE.fullmatch(powertools_version):
        found.append(
            f"powertools_version is {powertools_version!r}: give an exact Powertools v3 "
            f"release such as {DEFAULT_POWERTOOLS_VERSION!r} (or leave it unset), or pass "
            "powertools_layer_arn"
        )
    return found


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def _human(seconds: float) -> str:
    if seconds >= 86400 and seconds % 3600 == 0:
        return f"{_number(seconds / 86400)} days ({_number(seconds)} s)"
    return f"{_number(seconds)} s"


@dataclass(frozen=True)
class RedeliveryTimings:
    """The consumer's time settings, in seconds, checked against the guarantee."""

    source_retention: float
    dead_letter_retention: float
    redelivery_margin: float
    idempotency_retention: float
    function_timeout: float
    visibility_timeout: float
    lease_max: float

    @property
    def redelivery_window(self) -> float:
        """The latest a copy of a message can reach the consumer after it was first sent."""
        return self.source_retention + self.dead_letter_retention + self.redelivery_margin

    def violations(self) -> list[str]:
        """What breaks the guarantee, each naming the value to change; empty when none."""
        found: list[str] = []
        if self.idempotency_retention < self.redelivery_window:
            found.append(
                f"idempotency_retention is {_human(self.idempotency_retention)}, shorter than "
                f"the redelivery window source_retention + dead_letter_retention + "
                f"redelivery_margin = {_human(self.redelivery_window)}: raise "
                f"idempotency_retention to at least {_number(self.redelivery_window)} s, or "
                "shorten the queue retentions (a late redrive would be processed twice)"
            )
        minimum_visibility = VISIBILITY_TIMEOUT_FACTOR * self.function_timeout
        if self.visibility_timeout < minimum_visibility:
            found.append(
                f"visibility_timeout is {_human(self.visibility_timeout)}, under "
                f"{VISIBILITY_TIMEOUT_FACTOR} x function_timeout = {_human(minimum_visibility)}: "
                f"raise visibility_timeout to at least {_number(minimum_visibility)} s or lower "
                "function_timeout (a message still in flight would be delivered again)"
            )
        if self.dead_letter_retention <= self.source_retention:
            # The DLQ cannot keep anything longer than SQS's maximum: there, only the
            # source retention can move.
            fix = (
                "raise dead_letter_retention or lower source_retention"
                if self.source_retention < MAX_QUEUE_RETENTION_SECONDS
                else f"lower source_retention below {_human(MAX_QUEUE_RETENTION_SECONDS)}, "
                "SQS's maximum, which dead_letter_retention cannot exceed"
            )
            found.append(
                f"dead_letter_retention is {_human(self.dead_letter_retention)}, not longer than "
                f"source_retention ({_human(self.source_retention)}): {fix} (a standard DLQ "
                "keeps the original enqueue time, so a dead letter could expire on arrival)"
            )
        if self.dead_letter_retention > MAX_QUEUE_RETENTION_SECONDS:
            found.append(
                f"dead_letter_retention is {_human(self.dead_letter_retention)}, over SQS's "
                f"maximum of {_human(MAX_QUEUE_RETENTION_SECONDS)}: lower dead_letter_retention"
            )
        if self.lease_max > self.function_timeout:
            found.append(
                f"lease_max is {_human(self.lease_max)}, longer than function_timeout "
                f"({_human(self.function_timeout)}): lower lease_max (a lease must end when "
                "the invocation that holds it can no longer complete it)"
            )
        return found


def _batch_problems(fifo: bool, batch_size: int, max_batching_window: Duration | None) -> list[str]:
    """What AWS would reject in the event source mapping's batch settings."""
    found: list[str] = []
    if fifo:
        if not 1 <= batch_size <= MAX_FIFO_BATCH_SIZE:
            found.append(
                f"batch_size is {batch_size}: set it between 1 and {MAX_FIFO_BATCH_SIZE} "
                "(FIFO's limits)"
            )
        return found  # a FIFO batching window is refused as a guarantee problem
    if not 1 <= batch_size <= MAX_STANDARD_BATCH_SIZE:
        found.append(
            f"batch_size is {batch_size}: set it between 1 and {MAX_STANDARD_BATCH_SIZE} "
            "(a standard queue's limits)"
        )
    if max_batching_window is None:
        return found  # the construct's default, 1 s, is set below
    window = max_batching_window.to_seconds(integral=False)
    if (
        batch_size > MAX_UNBATCHED_BATCH_SIZE
        and window < MIN_BATCHING_WINDOW_FOR_LARGE_BATCHES_SECONDS
    ):
        found.append(
            f"max_batching_window is {_human(window)} with batch_size {batch_size}: raise "
            f"max_batching_window to at least {MIN_BATCHING_WINDOW_FOR_LARGE_BATCHES_SECONDS} s "
            f"(or leave it unset), or lower batch_size to {MAX_UNBATCHED_BATCH_SIZE} (AWS "
            f"takes over {MAX_UNBATCHED_BATCH_SIZE} messages a batch only with a window)"
        )
    if window > MAX_BATCHING_WINDOW_SECONDS:
        found.append(
            f"max_batching_window is {_human(window)}: lower it to at most "
            f"{MAX_BATCHING_WINDOW_SECONDS} s (AWS's maximum)"
        )
    return found


def _refusal(path: str, violations: list[str], invalid: list[str]) -> InvalidConsumerSettings:
    """One exception listing every problem: ``GuaranteeViolation`` when the guarantee
    is at stake, ``InvalidConsumerSettings`` when AWS would only reject the settings."""
    sections = []
    if violations:
        sections.append("the exactly-once guarantee would not hold:\n- " + "\n- ".join(violations))
    if invalid:
        sections.append("AWS would reject these settings:\n- " + "\n- ".join(invalid))
    message = f"{path}: refused, " + "\nand ".join(sections)
    return GuaranteeViolation(message) if violations else InvalidConsumerSettings(message)


def _grant_queue_key(queue: sqs.IQueue, role: iam.IRole, *actions: str) -> None:
    """Let ``role`` use the KMS key ``queue`` is encrypted with, if it has one of its own
    (what SendMessage and ReceiveMessage need on such a queue; AWS documents these)."""
    if queue.encryption_master_key is not None:
        queue.encryption_master_key.grant(role, *actions)


class ExactlyOnceConsumer(Construct):
    """A source queue, its DLQ, an idempotency table and the consumer function, wired.

    Attributes: ``queue``, ``dead_letter_queue``, ``idempotency_table``, ``role``,
    ``log_group``, ``runtime_layer``, ``function``, ``event_source_mapping``, ``alarms`` (by name:
    ``dead_letters``, ``dead_letters_moved``, ``oldest_message_age``, ``function_errors``),
    ``alarm_topic`` (where every alarm goes), ``dashboard``, ``timings`` (the checked time
    settings).

    Data is kept by default: the idempotency table (RETAIN, deletion protection on), the
    queues and the log group outlive the stack unless ``removal_policy=RemovalPolicy.DESTROY``
    (and ``deletion_protection=False``) say otherwise.

    The function may touch only its own queues and table; grant it the effect's
    resources yourself (for example ``table.grant(consumer.role, "dynamodb:UpdateItem")``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        handler: str,
        service_name: str,
        key_prefix: str,
        key_path: str,
        mode: ExactlyOnceMode = ExactlyOnceMode.ATOMIC,
        fifo: bool = False,
        dead_letter_fifo: bool | None = None,
        source_retention: Duration | None = None,
        dead_letter_retention: Duration | None = None,
        redelivery_margin: Duration | None = None,
        idempotency_retention: Duration | None = None,
        function_timeout: Duration | None = None,
        visibility_timeout: Duration | None = None,
        lease_max: Duration | None = None,
        memory_size: int = 512,
        tracing: bool = True,
        architecture: lambda_.Architecture | None = None,
        runtime: lambda_.Runtime | None = None,
        powertools_version: str = DEFAULT_POWERTOOLS_VERSION,
        powertools_layer_arn: str | None = None,
        max_receive_count: int | None = None,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_concurrency: int = 5,
        metrics_namespace: str = "ExactlyOnce",
        environment: Mapping[str, str] | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        oldest_message_age_threshold: Duration | None = None,
        alarm_topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        deletion_protection: bool | None = None,
        existing_queue: sqs.IQueue | None = None,
        existing_dead_letter_queue: sqs.IQueue | None = None,
        existing_idempotency_table: dynamodb.ITable | None = None,
    ) -> None:
        """Create the consumer; refuse unsafe or invalid settings, all listed in one message:
        ``GuaranteeViolation`` when the guarantee would not hold, else
        ``InvalidConsumerSettings`` (its base class) for settings AWS would reject.

        :param code: the function's asset: ``consumer_code("src")`` for a project's own
            code. The installed ``exactly_once`` package comes as a layer the construct
            adds (``runtime_layer``), beside the Powertools layer.
        :param handler: the entry point, e.g. ``ledger.handler.lambda_handler``.
        :param service_name: ``POWERTOOLS_SERVICE_NAME``, the ``service`` metric dimension.
        :param key_prefix: ``IDEMPOTENCY_KEY_PREFIX``; explicit so a refactoring never changes
            keys. Change it only to start a new key space on purpose.
        :param key_path: ``IDEMPOTENCY_KEY_PATH``, a JMESPath into the message body.
        :param mode: ``EXACTLY_ONCE_MODE``. Default atomic.
        :param fifo: the source queue is FIFO. Default standard.
        :param dead_letter_fifo: the DLQ is FIFO. Default: the same type as the source
            (SQS and the guarantee require it; any other value is refused).
        :param source_retention: the source queue's retention. Default 4 days.
        :param dead_letter_retention: the DLQ's retention, longer than the source's.
            Default 14 days (SQS's maximum).
        :param redelivery_margin: slack added to the redelivery window for redrives and
            clock skew. Default 1 day.
        :param idempotency_retention: how long a record protects its key
            (``IDEMPOTENCY_RETENTION_SECONDS``). Default: the redelivery window
            (source + DLQ retention + margin, 19 days with the defaults).
        :param function_timeout: default 30 seconds.
        :param visibility_timeout: the source queue's visibility timeout.
            Default 6 x function timeout (180 seconds with the defaults).
        :param lease_max: ``LEASE_MAX_SECONDS``, at most the function timeout.
            Default: the function timeout.
        :param memory_size: MB. Default 512.
        :param architecture: default ARM_64.
        :param runtime: the function's Python: one of ``SUPPORTED_RUNTIMES`` (3.12, 3.13,
            3.14, which both Lambda and the Powertools v3 layer support); any other is
            refused. Default ``Runtime.PYTHON_3_14``.
        :param powertools_version: the exact Powertools v3 release whose public layer the
            function gets, resolved by CloudFormation at deploy time from the public SSM
            parameter ``/aws/service/powertools/python/{arch}/{python}/{version}``
            (``powertools_layer_parameter``). Default ``DEFAULT_POWERTOOLS_VERSION``, the
            release the runtime is tested with.
        :param powertools_layer_arn: an explicit layer ARN instead, for a region or release
            without that parameter. Default none (the parameter).
        :param max_receive_count: receives before SQS moves a message to the DLQ. Default 5.
        :param batch_size: messages per invocation: 1-10000 for a standard queue (over 10
            only with a batching window of at least 1 second), 1-10 for FIFO. Default 10.
        :param max_batching_window: at most 300 seconds. Default 1 second for standard
            queues; FIFO queues take none.
        :param max_concurrency: the event source mapping's maximum concurrency (2-1000).
            Default 5.
        :param metrics_namespace: ``POWERTOOLS_METRICS_NAMESPACE``. Default "ExactlyOnce".
        :param environment: more variables for the function (e.g. the effect's table);
            may not override the construct's own.
        :param log_retention: the function's log group retention. Default one month.
        :param oldest_message_age_threshold: alarm when the oldest message is older.
            Default: visibility timeout x max receive count (the longest a message
            legitimately stays before the DLQ takes it).
        :param alarm_topic: the SNS topic every alarm notifies. Default: a topic of the
            construct's own (encrypted with a KMS key CloudWatch may use, SSL only),
            exposed as ``alarm_topic``: subscribe someone to it.
        :param removal_policy: for the idempotency table, the queues and the log group.
            Default RETAIN: the records that make redeliveries harmless outlive the stack.
            Pass ``RemovalPolicy.DESTROY`` for data that may go with the stack.
        :param deletion_protection: on the idempotency table. Default: on, unless
            ``removal_policy`` is DESTROY (a protected table would fail the stack's deletion).
        :param existing_queue: a source queue of your own (an ``sqs.Queue`` of this app)
            instead of the construct's. Its retention, visibility timeout, type and redrive
            policy (which must name a DLQ) are read and checked as the construct's own
            would be; its DLQ becomes ``dead_letter_queue``. Do not also pass the settings
            it carries (``source_retention``, ``visibility_timeout``, ``fifo`` differing,
            ``max_receive_count``): change them on the queue.
        :param existing_dead_letter_queue: a DLQ of your own for the construct's source
            queue (or the one ``existing_queue`` redrives to); its retention and type are
            checked. Do not also pass ``dead_letter_retention``.
        :param existing_idempotency_table: a ``dynamodb.Table`` of your own for the records:
            keyed by the string ``id`` alone, with time to live on ``expiration``. Its
            removal policy and deletion protection stay yours.
        """
        super().__init__(scope, construct_id)
        architecture = architecture or lambda_.Architecture.ARM_64
        runtime = runtime or DEFAULT_RUNTIME
        if deletion_protection is None:
            deletion_protection = removal_policy != RemovalPolicy.DESTROY
        function_timeout = function_timeout or Duration.seconds(30)
        # Resources passed in: their settings are what the guarantee is checked against.
        problems: list[str] = []
        brought: list[str] = []
        if existing_queue is not None:
            brought.append("existing_queue")
            source = read_queue(existing_queue, "existing_queue", problems)
            if source is not None:
                given = {
                    "source_retention": source_retention,
                    "visibility_timeout": visibility_timeout,
                    "max_receive_count": max_receive_count,
                }
                problems += [
                    f"{prop} is given with existing_queue: set it on the queue you pass"
                    for prop, value in given.items()
                    if value is not None
                ]
                if source.fifo != fifo:
                    problems.append(
                        f"existing_queue is {'a FIFO' if source.fifo else 'a standard'} queue: "
                        f"pass fifo={source.fifo}"
                    )
                source_retention = Duration.seconds(source.retention_seconds)
                visibility_timeout = Duration.seconds(source.visibility_timeout_seconds)
                if source.dead_letter is None:
                    problems.append(
                        "existing_queue has no dead-letter queue: give it dead_letter_queue="
                        "sqs.DeadLetterQueue(queue=..., max_receive_count=5) (failed messages "
                        "would otherwise be retried until they expire, then lost)"
                    )
                else:
                    max_receive_count = int(source.dead_letter.max_receive_count)
                    if existing_dead_letter_queue not in (None, source.dead_letter.queue):
                        problems.append(
                            "existing_dead_letter_queue is not the DLQ existing_queue "
                            "redrives to: pass that one, or leave existing_dead_letter_queue out"
                        )
                    existing_dead_letter_queue = source.dead_letter.queue
        if existing_dead_letter_queue is not None:
            brought.append("existing_dead_letter_queue")
            dead = read_queue(existing_dead_letter_queue, "existing_dead_letter_queue", problems)
            if dead is not None:
                if dead_letter_retention is not None:
                    problems.append(
                        "dead_letter_retention is given with a DLQ of your own: set "
                        "retention_period on that queue"
                    )
                if dead_letter_fifo is not None and dead_letter_fifo != dead.fifo:
                    problems.append(
                        f"dead_letter_fifo={dead_letter_fifo}, but the DLQ you pass is "
                        f"{'FIFO' if dead.fifo else 'standard'}: leave dead_letter_fifo out"
                    )
                dead_letter_fifo = dead.fifo
                dead_letter_retention = Duration.seconds(dead.retention_seconds)
        if existing_idempotency_table is not None:
            brought.append("existing_idempotency_table")
            problems += table_problems(
                existing_idempotency_table, IDEMPOTENCY_PARTITION_KEY, IDEMPOTENCY_TTL_ATTRIBUTE
            )
        if max_receive_count is None:
            max_receive_count = 5
        source_retention = source_retention or Duration.days(4)
        dead_letter_retention = dead_letter_retention or Duration.days(14)
        redelivery_margin = redelivery_margin or Duration.days(1)
        visibility_timeout = visibility_timeout or Duration.seconds(
            VISIBILITY_TIMEOUT_FACTOR * function_timeout.to_seconds()
        )
        lease_max = lease_max or function_timeout
        if idempotency_retention is None:
            idempotency_retention = Duration.seconds(
                source_retention.to_seconds()
                + dead_letter_retention.to_seconds()
                + redelivery_margin.to_seconds()
            )
        self.timings = RedeliveryTimings(
            source_retention=source_retention.to_seconds(),
            dead_letter_retention=dead_letter_retention.to_seconds(),
            redelivery_margin=redelivery_margin.to_seconds(),
            idempotency_retention=idempotency_retention.to_seconds(),
            function_timeout=function_timeout.to_seconds(),
            visibility_timeout=visibility_timeout.to_seconds(),
            lease_max=lease_max.to_seconds(),
        )
        problems += self.timings.violations()
        if brought and problems:
            problems.append(
                f"values above that come from the resources you passed ({', '.join(brought)}) "
                "are changed on those resources"
            )
        # Settings AWS would reject: not a guarantee question, refused in the same message.
        invalid: list[str] = []
        dead_letter_fifo = fifo if dead_letter_fifo is None else dead_letter_fifo
        if fifo and not dead_letter_fifo:
            problems.append(
                "a FIFO source queue needs a FIFO DLQ: set dead_letter_fifo=True (or leave it "
                "unset); a standard DLQ loses the message group and its order"
            )
        elif dead_letter_fifo and not fifo:
            problems.append(
                "a standard source queue needs a standard DLQ: set dead_letter_fifo=False "
                "(or leave it unset)"
            )
        if fifo and max_batching_window is not None:
            problems.append(
                "max_batching_window is set on a FIFO source: remove it (SQS FIFO event "
                "sources take no batching window)"
            )
        invalid += _batch_problems(fifo, batch_size, max_batching_window)
        if not 2 <= max_concurrency <= 1000:
            invalid.append(f"max_concurrency is {max_concurrency}: set it between 2 and 1000")
        if max_receive_count < 1:
            invalid.append(f"max_receive_count is {max_receive_count}: set it to 1 or more")
        invalid += _runtime_problems(runtime, powertools_version)
        if deletion_protection and removal_policy == RemovalPolicy.DESTROY:
            invalid.append(
                "deletion_protection=True with removal_policy=RemovalPolicy.DESTROY: the "
                "stack's deletion would fail on the idempotency table; set "
                "deletion_protection=False, or keep the table (leave removal_policy unset)"
            )
        overridden = sorted(RESERVED_ENVIRONMENT & set(environment or {}))
        if overridden:
            problems.append(
                f"environment overrides {', '.join(overridden)}: pass these as the "
                "construct's own props instead"
            )
        if problems or invalid:
            raise _refusal(self.node.path, problems, invalid)

        self.mode = mode
        self.service_name = service_name
        self.metrics_namespace = metrics_namespace

        # --- queues (the ones passed in, checked above, or the construct's own) -------
        self.dead_letter_queue: sqs.IQueue = existing_dead_letter_queue or sqs.Queue(
            self,
            "DeadLetterQueue",
            fifo=dead_letter_fifo or None,
            retention_period=dead_letter_retention,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=removal_policy,
        )
        self.queue: sqs.IQueue = existing_queue or sqs.Queue(
            self,
            "Queue",
            fifo=fifo or None,
            retention_period=source_retention,
            visibility_timeout=visibility_timeout,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count
            ),
            removal_policy=removal_policy,
        )

        # --- idempotency table ------------------------------------------------------
        self.idempotency_table: dynamodb.ITable = existing_idempotency_table or idempotency_table(
            self,
            "IdempotencyTable",
            removal_policy=removal_policy,
            deletion_protection=deletion_protection,
        )

        # --- function -----------------------------------------------------------------
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{service_name} consumer: its own queues, table and log group only",
        )
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=log_retention, removal_policy=removal_policy
        )
        self.log_group.grant_write(self.role)
        self.runtime = runtime
        self.powertools_version = powertools_version
        if powertools_layer_arn is None:
            # A CloudFormation parameter of type AWS::SSM::Parameter::Value<String>: the
            # layer's ARN is read from AWS's public parameter when the stack deploys.
            powertools_layer_arn = ssm.StringParameter.value_for_string_parameter(
                self,
                powertools_layer_parameter(
                    runtime=runtime, architecture=architecture, version=powertools_version
                ),
            )
        powertools_layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "PowertoolsLayer", powertools_layer_arn
        )
        # The runtime package ships once, as a layer of its own: the function's code is
        # the consumer's own modules only (``consumer_code``).
        self.runtime_layer = lambda_.LayerVersion(
            self,
            "RuntimeLayer",
            code=runtime_layer_code(runtime, scope=self),
            compatible_runtimes=[runtime],
            description=f"{service_name}: the exactly_once runtime package",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            code=code,
            handler=handler,
            runtime=runtime,
            architecture=architecture,
            layers=[powertools_layer, self.runtime_layer],
            role=self.role,
            log_group=self.log_group,
            timeout=function_timeout,
            memory_size=memory_size,
            # X-Ray active: each batch's DynamoDB and SQS calls as one trace.
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            description=f"{service_name}: exactly-once consumer of its SQS queue ({mode.value})",
            environment={
                **dict(environment or {}),
                "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
                "DEAD_LETTER_QUEUE_URL": self.dead_letter_queue.queue_url,
                "IDEMPOTENCY_KEY_PREFIX": key_prefix,
                "IDEMPOTENCY_KEY_PATH": key_path,
                "IDEMPOTENCY_RETENTION_SECONDS": str(int(self.timings.idempotency_retention)),
                "LEASE_MAX_SECONDS": str(int(self.timings.lease_max)),
                "EXACTLY_ONCE_MODE": mode.value,
                "POWERTOOLS_SERVICE_NAME": service_name,
                "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
            },
        )

        # --- least privilege: exactly the calls the runtime makes in this mode -------------
        # (tests/infra/test_least_privilege.py records them, per mode.) Atomic mode puts
        # each record in the effect's transaction (TransactWriteItems is authorized per
        # item: a Put needs PutItem) and reads one (GetItem) only when a cancellation
        # reason carries no item. Leased mode only updates records: acquire, complete and
        # release a lease are conditional UpdateItems that hand back the old record on a
        # failed condition. Records are never deleted (a released lease is expired in
        # place), so there is no DeleteItem.
        self.idempotency_table.grant(self.role, *RECORD_ACTIONS[mode])
        # Conflicting, invalid and refused messages are moved by hand (SendMessageBatch).
        self.dead_letter_queue.grant(self.role, "sqs:SendMessage")
        # A queue of your own under a KMS key of its own: sending needs the key too (the
        # construct's queues use SQS-managed keys, which need no grant).
        _grant_queue_key(self.dead_letter_queue, self.role, "kms:GenerateDataKey", "kms:Decrypt")
        _grant_queue_key(self.queue, self.role, "kms:Decrypt")
        # What the event source mapping's poller does on the function's behalf: the
        # three actions AWS documents for an SQS trigger (AWSLambdaSQSQueueExecutionRole).
        # Failed messages come back by their visibility timeout, so no
        # ChangeMessageVisibility; the function itself never reads the source queue.
        self.queue.grant(
            self.role, "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"
        )

        # --- event source mapping --------------------------------------------------------
        if not fifo and max_batching_window is None:
            max_batching_window = Duration.seconds(1)
        self.event_source_mapping = lambda_.EventSourceMapping(
            self,
            "EventSourceMapping",
            target=self.function,
            event_source_arn=self.queue.queue_arn,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            report_batch_item_failures=True,
        )
        # The mapping checks the role's queue permissions when it is created.
        self.event_source_mapping.node.add_dependency(self.role)
        self._acknowledge_rules_that_do_not_apply(tracing)

        # --- alarms and dashboard -----------------------------------------------------------
        age_threshold = (
            oldest_message_age_threshold.to_seconds()
            if oldest_message_age_threshold is not None
            else self.timings.visibility_timeout * max_receive_count
        )
        dead_letter_depth = self.dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic="Maximum"
        )
        self.alarms: dict[str, cloudwatch.Alarm] = {
            # Each new dead letter, once: messages sent to the DLQ in the minute (the
            # standing visible count would stay in ALARM while any dead letter is kept).
            # AWS counts SendMessage calls only: the consumer's own dead letters
            # (conflicting, invalid, refused), not a message SQS's redrive policy moves
            # after max_receive_count receives.
            "dead_letters": cloudwatch.Alarm(
                self,
                "DeadLetterSent",
                alarm_description=(
                    f"{service_name}: a new message in the DLQ (conflicting, invalid or "
                    "refused); inspect its exactly_once.reason attribute"
                ),
                metric=self.dead_letter_queue.metric_number_of_messages_sent(
                    period=Duration.minutes(1), statistic="Sum"
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            # SQS's own moves (after max_receive_count failed receives) are not in
            # NumberOfMessagesSent, which counts SendMessage calls only: they show as the
            # DLQ's depth growing. A minute's rise, clipped at zero (a redrive shrinks it).
            "dead_letters_moved": cloudwatch.Alarm(
                self,
                "DeadLetterMoved",
                alarm_description=(
                    f"{service_name}: the DLQ grew. A message without an exactly_once.reason "
                    f"attribute was moved there by SQS after {max_receive_count} failed "
                    "receives (the consumer keeps failing it: see the function's logs); one "
                    "with a reason was dead-lettered by the consumer"
                ),
                # FILL: an idle DLQ publishes no depth; the first dead letter after a quiet
                # spell must still show as a rise from zero.
                metric=cloudwatch.MathExpression(
                    expression="IF(DIFF(FILL(depth, 0)) > 0, DIFF(FILL(depth, 0)), 0)",
                    using_metrics={"depth": dead_letter_depth},
                    period=Duration.minutes(1),
                    label="dead letters added in the minute",
                ),
                threshold=1,
                evaluation_periods=2,
                datapoints_to_alarm=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            "oldest_message_age": cloudwatch.Alarm(
                self,
                "OldestMessageAge",
                alarm_description=(
                    f"{service_name}: the oldest message waits longer than "
                    f"{_number(age_threshold)} s; the consumer is failing or cannot keep up"
                ),
                metric=self.queue.metric_approximate_age_of_oldest_message(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                threshold=age_threshold,
                evaluation_periods=5,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            "function_errors": cloudwatch.Alarm(
                self,
                "FunctionErrors",
                alarm_description=(
                    f"{service_name}: the function failed as a whole (crash, timeout or bad "
                    "configuration); per-message failures are reported, not raised"
                ),
                metric=self.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        }
        self.alarm_topic = alarm_topic or self._own_alarm_topic(service_name)
        notify = cloudwatch_actions.SnsAction(self.alarm_topic)
        for alarm in self.alarms.values():
            alarm.add_alarm_action(notify)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"{service_name}: outcome per message",
                left=[self.outcome_metric(name) for name in OUTCOME_METRICS],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Queues",
                left=[
                    self.queue.metric_approximate_number_of_messages_visible(statistic="Maximum"),
                    self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        statistic="Maximum", label="DLQ visible"
                    ),
                ],
                right=[self.queue.metric_approximate_age_of_oldest_message(statistic="Maximum")],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function",
                left=[
                    self.function.metric_invocations(),
                    self.function.metric_errors(),
                    self.function.metric_throttles(),
                ],
                right=[self.function.metric_duration(statistic="p99")],
                width=12,
            ),
            # No AlarmStatusWidget: its GetAtt on the alarms breaks moto's CloudFormation,
            # which creates no alarms; the alarms have their own console page.
            cloudwatch.SingleValueWidget(
                title="Dead letters now",
                metrics=[
                    self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        statistic="Maximum"
                    )
                ],
                width=12,
            ),
        )

    def _own_alarm_topic(self, service_name: str) -> sns.Topic:
        """A topic for the alarms: encrypted with a key of its own that CloudWatch may use
        (it cannot publish to a topic under the AWS managed ``aws/sns`` key), SSL only."""
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"{service_name}: encrypts the consumer's alarm notifications",
            enable_key_rotation=True,
            # Protects notifications in flight only: nothing to keep once the topic is gone.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        # What AWS documents for CloudWatch alarms publishing to an encrypted topic.
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"),
            "kms:Decrypt",
            "kms:GenerateDataKey*",
        )
        return sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{service_name} alarms",
            master_key=key,
            enforce_ssl=True,
        )

    def _acknowledge_rules_that_do_not_apply(self, tracing: bool) -> None:
        """cdk-nag findings (AwsSolutions, Serverless packs) that do not fit an SQS consumer,
        each acknowledged on its one resource with the reason."""
        rules: list[tuple[IConstruct, str, str]] = [
            (
                self.dead_letter_queue,
                "Serverless-SQSRedrivePolicy",
                "this is the dead-letter queue: a redrive policy on it would move dead "
                "letters on again",
            ),
            (
                self.function,
                "Serverless-LambdaDLQ",
                "an SQS event source invokes synchronously: failed messages reach the source "
                "queue's DLQ by its redrive policy; a function DLQ serves async calls only",
            ),
            (
                self.event_source_mapping,
                "Serverless-LambdaEventSourceMappingDestination",
                "on-failure destinations are for stream sources; an SQS source dead-letters "
                "through the queue's redrive policy, which this construct sets",
            ),
        ]
        if tracing:
            rules.append(
                (
                    self.role,
                    "AwsSolutions-IAM5[Resource::*]",
                    "X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords take no "
                    "resource-level permissions (AWS requires Resource *)",
                )
            )
        for construct, rule, reason in rules:
            Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))

    def send_to(
        self,
        downstream: ExactlyOnceConsumer | sqs.IQueue,
        *,
        environment_variable: str | None = None,
    ) -> sqs.IQueue:
        """Let this consumer's effect send messages to the next stage's queue, and nothing
        else of it: ``sqs:SendMessage`` on that queue (SendMessageBatch is authorized as
        SendMessage). ``environment_variable`` names the variable that gets the queue's URL.

        When the next stage is an ``ExactlyOnceConsumer``, its memory must outlast every
        repeat this one can send: a duplicate delivered here re-sends its downstream
        messages for as long as this consumer remembers it (its idempotency retention),
        and each re-sent message may reach the next stage up to that stage's redelivery
        window later. A shorter retention there is refused (``GuaranteeViolation``).
        Returns the queue.
        """
        if environment_variable in RESERVED_ENVIRONMENT:
            raise InvalidConsumerSettings(
                f"{self.node.path}: send_to(environment_variable={environment_variable!r}) "
                "would override the construct's own variable: choose another name"
            )
        if isinstance(downstream, ExactlyOnceConsumer):
            needed = self.timings.idempotency_retention + downstream.timings.redelivery_window
            if downstream.timings.idempotency_retention < needed:
                raise GuaranteeViolation(
                    f"{downstream.node.path}: idempotency_retention is "
                    f"{_human(downstream.timings.idempotency_retention)}, shorter than what "
                    f"{self.node.path} can re-send into it: its idempotency_retention "
                    f"({_human(self.timings.idempotency_retention)}) + the next stage's "
                    f"redelivery window ({_human(downstream.timings.redelivery_window)}) = "
                    f"{_human(needed)}: raise the next stage's idempotency_retention to at "
                    f"least {_number(needed)} s (Duration.days({math.ceil(needed / 86400)})), "
                    "or shorten this stage's queue retentions and its idempotency_retention "
                    "with them (a late duplicate here would re-send a message the next stage "
                    "has forgotten, and it would be applied twice)"
                )
            queue: sqs.IQueue = downstream.queue
        else:
            queue = downstream
        queue.grant(self.role, "sqs:SendMessage")
        _grant_queue_key(queue, self.role, "kms:GenerateDataKey", "kms:Decrypt")
        if environment_variable is not None:
            self.function.add_environment(environment_variable, queue.queue_url)
        return queue

    def outcome_metric(self, outcome: str, *, period: Duration | None = None) -> cloudwatch.Metric:
        """The count the function emits for ``outcome`` (one of ``OUTCOME_METRICS``)."""
        if outcome not in OUTCOME_METRICS:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOME_METRICS}")
        return cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name=outcome,
            dimensions_map={"service": self.service_name},
            statistic="Sum",
            period=period or Duration.minutes(1),
            label=outcome,
        )
