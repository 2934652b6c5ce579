"""The ledger's message: "add AMOUNT in CURRENCY to ACCOUNT", once per transaction id.

``{"transaction_id": "t-1", "account_id": "acct-1", "amount": "10.50", "currency": "EUR"}``:
ids of 1-128 characters from ``A-Za-z0-9._:@/-``, an active ISO 4217 code, and a non-zero
plain decimal string with at most as many places as the currency has (ISO 4217's minor
unit: ``"100"`` JPY, ``"10.50"`` EUR, ``"1.005"`` KWD; ``ledger.currencies``). The amount is
held as an integer count of the currency's minor units (``amount_minor``: 1050 for 10.50
EUR), within the signed 64-bit range, both ends included.

Validated by hand rather than with pydantic: four fields do not need it, and its import
would cost the function's cold start about 90 ms. Every reason names a field and a rule,
never a value the sender wrote.
"""

from __future__ import annotations

import re
from typing import Any

from exactly_once import InvalidMessage, Value

from .currencies import MINOR_UNITS

MAX_MINOR = 2**63 - 1  # balances are 64-bit integers in every system the ledger feeds
MIN_MINOR = -(2**63)
FIELDS = ("transaction_id", "account_id", "amount", "currency")
# A signed 64-bit integer has at most 19 digits: the digits of the integer part plus the
# currency's places are counted before any conversion, so a megabyte of digits is refused
# without building a huge number.
_MAX_DIGITS = len(str(MAX_MINOR))
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}")
_AMOUNT = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?")

ID_RULE = "must be 1-128 characters of letters, digits and ._:@/-"
AMOUNT_FORMAT = "must be a plain decimal string like '10.50' or '-3'"
AMOUNT_ZERO = "must not be zero"
AMOUNT_RANGE = "exceeds the signed 64-bit range in the currency's minor units"
CURRENCY_RULE = "must be an ISO 4217 code such as 'EUR' or 'USD'"
NOT_A_STRING = "Input should be a valid string"
MISSING = "Field required"


def places_rule(currency: str, places: int) -> str:
    """The reason for an amount with more decimal places than its currency has."""
    allowed = MINOR_UNITS[currency]
    unit = "place" if allowed == 1 else "places"
    return f"{currency} has {allowed} decimal {unit}, got {places}"


class LedgerTransaction(Value):
    """One credit (positive amount) or debit (negative amount) to an account's balance in
    one currency.

    ``amount`` is the string as sent; ``amount_minor`` the same amount in the currency's
    minor units (an int within signed 64 bits), ``minor_unit_exponent`` their places. A
    transaction that would take a balance outside 64 bits is refused (``ledger.effects``).
    """

    # A Value, not a dataclass: a dataclass compiles its methods at import, and this module
    # is imported on every cold start of the ledger's function.
    transaction_id: str
    account_id: str
    amount: str
    currency: str
    amount_minor: int

    @property
    def minor_unit_exponent(self) -> int:
        return MINOR_UNITS[self.currency]


def _string(document: dict[str, Any], name: str, problems: list[str]) -> str | None:
    if name not in document:
        problems.append(f"{name}: {MISSING}")
        return None
    value = document[name]
    if type(value) is not str:
        problems.append(f"{name}: {NOT_A_STRING}")
        return None
    return value


def _identifier(document: dict[str, Any], name: str, problems: list[str]) -> str | None:
    value = _string(document, name, problems)
    if value is not None and not _ID.fullmatch(value):
        problems.append(f"{name}: {ID_RULE}")
        return None
    return value


def amount_in_minor_units(amount: str, currency: str | None) -> int | str:
    """``amount`` as an integer of ``currency``'s minor units, or the rule it breaks.

    Without a known currency only the form and zero are checked (the currency's own
    problem is reported apart).
    """
    match = _AMOUNT.fullmatch(amount)
    if match is None:
        return AMOUNT_FORMAT
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if currency is None:
        return AMOUNT_ZERO if whole == "0" and not fraction.strip("0") else 0
    places = MINOR_UNITS[currency]
    if len(fraction) > places:
        return places_rule(currency, len(fraction))
    if len(whole) + places > _MAX_DIGITS:
        return AMOUNT_RANGE
    minor = int(whole + fraction.ljust(places, "0"))
    if sign:
        minor = -minor
    if minor == 0:
        return AMOUNT_ZERO
    if not MIN_MINOR <= minor <= MAX_MINOR:
        return AMOUNT_RANGE
    return minor


def parse_transaction(document: dict[str, Any]) -> LedgerTransaction:
    """The transaction in a decoded body, or InvalidMessage naming each field at fault.

    The reason quotes field names and rules only, never the values: it lands in logs and
    in DLQ attributes, where message content must not go. (A currency code, once known to
    be one of ISO 4217's, is no sender data and may be named.)
    """
    problems: list[str] = []
    transaction_id = _identifier(document, "transaction_id", problems)
    account_id = _identifier(document, "account_id", problems)
    amount = _string(document, "amount", problems)
    currency = _string(document, "currency", problems)
    if currency is not None and currency not in MINOR_UNITS:
        currency_problem = f"currency: {CURRENCY_RULE}"
        currency = None
    else:
        currency_problem = ""
    minor: int | str = 0
    if amount is not None:
        minor = amount_in_minor_units(amount, currency)
        if isinstance(minor, str):
            problems.append(f"amount: {minor}")
    if currency_problem:
        problems.append(currency_problem)
    if any(name not in FIELDS for name in document):
        # The name is the sender's text: it may carry data, so it is not repeated.
        problems.append(f"body: has fields other than {', '.join(FIELDS)}")
    if (
        problems
        or transaction_id is None
        or account_id is None
        or amount is None
        or currency is None
        or isinstance(minor, str)
    ):
        raise InvalidMessage("invalid transaction: " + "; ".join(dict.fromkeys(problems)))
    return LedgerTransaction(transaction_id, account_id, amount, currency, minor)
