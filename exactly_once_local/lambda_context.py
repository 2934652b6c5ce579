"""A Lambda context for local invocations, its remaining time following a clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LocalLambdaContext:
    clock: Any
    timeout_seconds: float = 30.0
    function_name: str = "exactly-once-consumer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:eu-west-1:123456789012:function:exactly-once-consumer"
    )
    aws_request_id: str = "request-1"
    started_at: float = field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self.clock.now()

    def get_remaining_time_in_millis(self) -> int:
        deadline = self.started_at + self.timeout_seconds
        return max(0, int((deadline - self.clock.now()) * 1000))
