"""One structured log line per message and one metric per outcome (EMF via Powertools)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .messages import Decision
from .outcomes import Outcome


class Telemetry:
    """Logs each decision (ids, key hash, outcome, reason; never the body) and counts outcomes."""

    def __init__(self, logger: Logger, metrics: Metrics) -> None:
        self._logger = logger
        self._metrics = metrics

    def record(self, decisions: Mapping[str, Decision]) -> Counter[Outcome]:
        counts: Counter[Outcome] = Counter()
        for message_id, decision in decisions.items():
            counts[decision.outcome] += 1
            log = self._logger.warning if decision.outcome.is_item_failure else self._logger.info
            log(
                "message settled",
                extra={
                    "message_id": message_id,
                    "key_hash": decision.record_id,
                    "outcome": decision.outcome.value,
                    "reason": decision.reason,
                },
            )
        # Every outcome every time, zeros included, so dashboards show continuous series.
        for outcome in Outcome:
            self._metrics.add_metric(
                name=outcome.value, unit=MetricUnit.Count, value=counts[outcome]
            )
        return counts
