"""The local poller with the demo's and the campaign's faults around each invocation.

``exactly_once_local.poller.Poller`` plays Lambda's event source mapping; this adds what
the proving tools inject there: an ``InjectedCrash`` counts as the process dying, and a
finished invocation's response is lost at the ``lost_response`` rate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from exactly_once_local.poller import BatchHandler, HandlerFactory, Poller, PollStats
from pipeline.faults import FaultCounts, FaultRates, InjectedCrash

__all__ = ["BatchHandler", "FaultyPoller", "HandlerFactory", "PollStats", "Poller"]


@dataclass
class FaultyPoller(Poller):
    """A ``Poller`` whose invocations crash and lose responses as ``faults`` say."""

    faults: FaultRates = field(default_factory=FaultRates)
    fault_counts: FaultCounts = field(default_factory=FaultCounts)

    def crashed(self, exc: BaseException) -> bool:
        return isinstance(exc, InjectedCrash)

    def response_lost(self, rng: random.Random) -> bool:
        if rng.random() < self.faults.lost_response:
            self.fault_counts.add("lost_responses")
            return True
        return False
