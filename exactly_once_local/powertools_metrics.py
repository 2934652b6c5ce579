"""What the local runtimes do with a handler's Powertools Metrics after each invocation.

In Lambda, ``@metrics.log_metrics`` flushes the metric set after every invocation (one
EMF line on stdout, which Lambda sends to CloudWatch Logs) and the flush clears it.

The local cloud's containers (``runtime.LocalContainer``) write a function's output to
its own log file, never to the console, so they always flush: they run the function with
``LOCAL_METRICS_ENVIRONMENT``, and each invocation's EMF line lands in the function's log,
where ``python -m pipeline status`` sums the outcome counts. ``POWERTOOLS_METRICS_DISABLED``
(which the demo and the campaigns set to keep EMF off the terminal) means there only that
the metrics reach no terminal.

Elsewhere (a handler run in this process without a container: the in-process demo) a
disabled flag stays what Powertools makes of it: its flush skips the clear, the values
pile up, and ``add_metric`` prints the whole set to stdout once a metric holds 100
values, flag or not (aws_lambda_powertools/metrics/provider/cloudwatch_emf/cloudwatch.py,
3.37.0). ``drop_when_disabled`` and ``flush_like_lambda`` drop the values after each
invocation to keep EMF out of the terminal; with metrics on, the flush has already
emptied the set.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

# An invocation that crashed before its first metric flushes an empty set, and Powertools
# warns about that; an injected crash is not a finding.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

# A local container's function runs with these on top of its own environment.
LOCAL_METRICS_ENVIRONMENT = {"POWERTOOLS_METRICS_DISABLED": "false"}


def drop_when_disabled(candidates: Iterable[Any]) -> None:
    """Clear each ``Metrics`` among ``candidates`` if metrics are disabled."""
    if not is_metrics_disabled():
        return
    for value in candidates:
        if isinstance(value, Metrics):
            value.clear_metrics()


def flush_like_lambda(metrics: Metrics) -> None:
    """What ``@metrics.log_metrics`` does after an invocation, without the quirk above."""
    if is_metrics_disabled():
        metrics.clear_metrics()
    elif metrics.metric_set:
        metrics.flush_metrics()
