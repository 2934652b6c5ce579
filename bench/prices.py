"""AWS list prices the cost figures use, all in one place.

Dated: us-east-1 list prices as the author knew them in 2025 (DynamoDB on-demand after the
November 2024 price cut), NOT re-checked against the live pricing pages. Free tiers are
ignored. Check https://aws.amazon.com/lambda/pricing/, /dynamodb/pricing/on-demand/ and
/sqs/pricing/ before quoting a figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PRICES_AS_OF = "2025 (author's knowledge; not re-checked)"
REGION = "us-east-1"


@dataclass(frozen=True)
class Prices:
    """USD list prices, one field per billed dimension."""

    lambda_per_million_requests: float = 0.20
    lambda_per_gb_second: float = 0.0000166667  # x86_64; arm64 is 0.0000133334
    dynamodb_per_million_write_units: float = 0.625  # on-demand write request units
    dynamodb_per_million_read_units: float = 0.125  # on-demand read request units
    dynamodb_per_gb_month: float = 0.25  # Standard table class storage
    sqs_per_million_requests: float = 0.40  # standard queue, per 64 KB chunk

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": PRICES_AS_OF, "region": REGION, **asdict(self)}


LIST_PRICES = Prices()
