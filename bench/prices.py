"""AWS list prices the cost figures use, all in one place.

Dated: us-east-1 list prices taken as of 2026-11-28 from the author's knowledge (DynamoDB
on-demand after the November 2024 price cut), NOT re-checked online against the live
pricing pages. Free tiers are ignored. Check https://aws.amazon.com/lambda/pricing/,
/dynamodb/pricing/on-demand/ and /sqs/pricing/ before quoting a figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.deployment import LAMBDA_ARCHITECTURE

PRICES_AS_OF = "2026-11-28"
PRICES_SOURCE = "author's knowledge of the us-east-1 list prices; not re-checked online"
REGION = "us-east-1"


@dataclass(frozen=True)
class Prices:
    """USD list prices, one field per billed dimension."""

    lambda_per_million_requests: float = 0.20
    # Duration per GB-second. The deployed function runs on arm64 (Graviton; see
    # bench/deployment.py), so the costs use the arm64 price; x86_64 is kept for reference.
    lambda_per_gb_second_arm64: float = 0.0000133334
    lambda_per_gb_second_x86_64: float = 0.0000166667
    dynamodb_per_million_write_units: float = 0.625  # on-demand write request units
    dynamodb_per_million_read_units: float = 0.125  # on-demand read request units
    dynamodb_per_gb_month: float = 0.25  # Standard table class storage
    sqs_per_million_requests: float = 0.40  # standard queue, per 64 KB chunk

    @property
    def lambda_per_gb_second(self) -> float:
        """The duration price of the deployed architecture."""
        if LAMBDA_ARCHITECTURE == "arm64":
            return self.lambda_per_gb_second_arm64
        return self.lambda_per_gb_second_x86_64

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": PRICES_AS_OF,
            "source": PRICES_SOURCE,
            "region": REGION,
            "lambda_architecture_priced": LAMBDA_ARCHITECTURE,
            **asdict(self),
        }


LIST_PRICES = Prices()
