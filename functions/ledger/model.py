"""The ledger's message: "add AMOUNT in CURRENCY to ACCOUNT", once per transaction id."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from exactly_once import InvalidMessage

from .currencies import ISO_4217

MAX_CENTS = 2**63 - 1  # balances are 64-bit cents in every system the ledger feeds
MIN_CENTS = -(2**63)
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$"
FIELDS = ("transaction_id", "account_id", "amount", "currency")
_AMOUNT = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]{1,2})?$")
# 64-bit cents have at most 17 integer digits: checked before Decimal sees the string, so
# a megabyte of digits is refused rather than overflowing Decimal's context.
_MAX_INTEGER_DIGITS = 17


class LedgerTransaction(BaseModel):
    """One credit (positive amount) or debit (negative amount) to an account.

    Amounts and balances stay within signed 64-bit cents: an amount outside is invalid, and
    a transaction that would take a balance outside is refused (``LedgerAtomicEffect``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    transaction_id: str = Field(pattern=_ID_PATTERN)
    account_id: str = Field(pattern=_ID_PATTERN)
    amount: str
    currency: str

    @field_validator("amount")
    @classmethod
    def _plain_decimal(cls, value: str) -> str:
        if not _AMOUNT.fullmatch(value):
            raise ValueError("must be a decimal string with at most 2 places, like '10.50' or '-3'")
        if len(value.lstrip("-").split(".")[0]) > _MAX_INTEGER_DIGITS:
            raise ValueError("exceeds the 64-bit range in cents")
        cents = cls._cents_of(value)
        if cents == 0:
            raise ValueError("must not be zero")
        if not MIN_CENTS <= cents <= MAX_CENTS:
            raise ValueError("exceeds the 64-bit range in cents")
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in ISO_4217:
            raise ValueError("must be an ISO 4217 code such as 'EUR' or 'USD'")
        return value

    @staticmethod
    def _cents_of(amount: str) -> int:
        return int(Decimal(amount).scaleb(2))

    @property
    def amount_cents(self) -> int:
        return self._cents_of(self.amount)


def parse_transaction(document: dict[str, Any]) -> LedgerTransaction:
    """The transaction in a decoded body, or InvalidMessage naming each field at fault.

    The reason quotes field names and rules only, never the values: it lands in logs and
    in DLQ attributes, where message content must not go.
    """
    try:
        return LedgerTransaction.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            if error["type"] == "extra_forbidden":
                # The name is the sender's text: it may carry data, so it is not repeated.
                problems.append(f"body: has fields other than {', '.join(FIELDS)}")
                continue
            field = ".".join(str(part) for part in error["loc"]) or "body"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "string_pattern_mismatch":
                message = "must be 1-128 characters of letters, digits and ._:@/- "
            problems.append(f"{field}: {message.strip()}")
        unique = list(dict.fromkeys(problems))
        raise InvalidMessage("invalid transaction: " + "; ".join(unique)) from None
