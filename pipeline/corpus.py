"""A hostile-input corpus for the ledger consumer, as data, with valid transactions to mix in.

Each hostile case is a message body the consumer must move to the DLQ with a reason
(``outcome`` "invalid" or "conflict", ``reason`` a substring of the
``exactly_once.reason`` attribute) while the rest of its batch is processed. Conflicts
reuse the transaction id of an *original*: a valid transaction that must be applied
before the conflicting body arrives (send ``Corpus.originals`` in a first wave, drained,
then ``Corpus.mixed()``), or which of the two wins is up to SQS's ordering.

Every body is one SQS accepts: SQS refuses raw characters outside #x9, #xA, #xD,
#x20-#xD7FF, #xE000-#xFFFD and #x10000-#x10FFFF, so control characters and lone
surrogates travel JSON-escaped (``\\u0000``). The largest bodies are 256 KiB (SQS's old
limit; both AWS and moto 5.2.5 now take 1 MiB).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["invalid", "conflict"]

KIB = 1024
OVERSIZED_BYTES = 256 * KIB
MAX_MINOR = 2**63 - 1
MIN_MINOR = -(2**63)

NOT_JSON = "body is not JSON"
NOT_OBJECT = "body is JSON but not an object"
NESTED = "body is nested too deeply"
KEY_MISSING = "idempotency key missing"
KEY_NOT_STRING = "must be a string"
KEY_EMPTY = "is empty"
KEY_TOO_LONG = "exceeds 1024 bytes"
ID_RULE = "must be 1-128 characters of letters, digits and ._:@/-"
AMOUNT_RULE = "amount: must be a plain decimal string"
AMOUNT_ZERO = "amount: must not be zero"
AMOUNT_RANGE = "amount: exceeds the signed 64-bit range"
AMOUNT_TYPE = "amount: Input should be a valid string"
CURRENCY_RULE = "currency: must be an ISO 4217 code"
EXTRA_FIELD = "has fields other than"
CONFLICT = "different payload"


@dataclass(frozen=True)
class HostileCase:
    """A body the consumer must dead-letter, and what the DLQ reason must contain."""

    name: str
    body: str
    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class ValidTransaction:
    """A body the consumer must apply once per ``transaction_id`` (resends have no effect)."""

    name: str
    body: str
    transaction_id: str
    account_id: str
    currency: str
    amount_minor: int  # in the currency's minor units (ISO 4217)


@dataclass(frozen=True)
class Corpus:
    originals: tuple[ValidTransaction, ...]
    valid: tuple[ValidTransaction, ...]
    hostile: tuple[HostileCase, ...]

    def mixed(self, seed: int = 7) -> list[ValidTransaction | HostileCase]:
        """The hostile cases and the valid transactions, shuffled together (seeded)."""
        messages: list[ValidTransaction | HostileCase] = [*self.valid, *self.hostile]
        random.Random(seed).shuffle(messages)
        return messages

    def expected_balances(self) -> dict[tuple[str, str], int]:
        """Minor units per (account_id, currency) once every valid transaction is applied once."""
        balances: Counter[tuple[str, str]] = Counter()
        seen: set[str] = set()
        for tx in (*self.originals, *self.valid):
            if tx.transaction_id not in seen:
                seen.add(tx.transaction_id)
                balances[(tx.account_id, tx.currency)] += tx.amount_minor
        return dict(balances)

    def expected_counts(self) -> dict[tuple[str, str], int]:
        """Applied transactions per (account_id, currency) (``transaction_count``)."""
        counts: Counter[tuple[str, str]] = Counter()
        first: dict[str, ValidTransaction] = {}
        for tx in (*self.originals, *self.valid):
            first.setdefault(tx.transaction_id, tx)
        for tx in first.values():
            counts[(tx.account_id, tx.currency)] += 1
        return dict(counts)


def _tx(transaction_id: Any, account_id: Any, amount: Any, currency: Any) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "account_id": account_id,
        "amount": amount,
        "currency": currency,
    }


def _valid(
    name: str, transaction_id: str, account_id: str, amount: str, currency: str, minor: int
) -> ValidTransaction:
    body = json.dumps(_tx(transaction_id, account_id, amount, currency))
    return ValidTransaction(name, body, transaction_id, account_id, currency, minor)


def _padded(document: dict[str, Any], field_name: str, size: int) -> str:
    """``document`` with ``field_name`` set to a string that makes the body ``size`` bytes."""
    head = json.dumps({**document, field_name: ""})
    closing = head[head.rindex('""') + 2 :]
    return head[: head.rindex('""') + 1] + "x" * (size - len(head)) + '"' + closing


def build_corpus(prefix: str = "hostile") -> Corpus:
    """The corpus, its ids and accounts under ``prefix`` (a campaign may run it repeatedly
    under fresh prefixes; ids stay within the ledger's 128-character rule)."""
    p = prefix
    acct = f"{p}-acct"

    def case(name: str, body: Any, outcome: Outcome, reason: str) -> HostileCase:
        return HostileCase(
            name, body if isinstance(body, str) else json.dumps(body), outcome, reason
        )

    def bad(tx_id: str, **fields: Any) -> dict[str, Any]:
        return {**_tx(f"{p}-{tx_id}", acct, "1.00", "EUR"), **fields}

    originals = (
        _valid("original", f"{p}-orig-1", f"{acct}-orig", "10.00", "EUR", 1000),
        _valid("original", f"{p}-orig-2", f"{acct}-orig", "20.00", "EUR", 2000),
        _valid("original", f"{p}-orig-3", f"{acct}-orig", "30.00", "EUR", 3000),
    )
    first = json.loads(originals[0].body)
    second = json.loads(originals[1].body)
    third = json.loads(originals[2].body)

    valid = (
        *(
            _valid(
                f"plain-{i}", f"{p}-ok-{i}", f"{acct}-{i % 4}", f"{i + 1}.25", "EUR", 100 * i + 125
            )
            for i in range(12)
        ),
        _valid("debit", f"{p}-debit", f"{acct}-0", "-0.50", "EUR", -50),
        _valid("yen-no-places", f"{p}-jpy", f"{acct}-0", "7", "JPY", 7),
        _valid("dinar-3-places", f"{p}-kwd", f"{acct}-0", "1.005", "KWD", 1005),
        _valid("fomento-4-places", f"{p}-clf", f"{acct}-0", "-2.5", "CLF", -25000),
        _valid("digital-bolivar", f"{p}-ved", f"{acct}-0", "3.10", "VED", 310),
        _valid("max-64-bit", f"{p}-max", f"{acct}-max", "92233720368547758.07", "USD", MAX_MINOR),
        _valid("min-64-bit", f"{p}-min", f"{acct}-min", "-92233720368547758.08", "USD", MIN_MINOR),
        _valid("max-64-bit-yen", f"{p}-maxy", f"{acct}-maxy", str(MAX_MINOR), "JPY", MAX_MINOR),
        _valid("id-at-128", "t" * 128, f"{acct}-long", "1.00", "EUR", 100),
        _valid("id-with-symbols", f"{p}-a.b_c:d@e/f-g", f"{acct}/x:y@z", "1.00", "EUR", 100),
        # A resend of an original with its keys reordered and spaced: the same payload
        # (the hash is canonical), so a duplicate with no effect, not a conflict.
        ValidTransaction(
            "resend-reformatted",
            json.dumps(dict(reversed(list(first.items()))), indent=2),
            first["transaction_id"],
            first["account_id"],
            first["currency"],
            1000,
        ),
        # A valid transaction in a 256 KiB body (white space): size alone is no reason.
        ValidTransaction(
            "valid-256-kib",
            json.dumps(_tx(f"{p}-big-ok", f"{acct}-big", "3.00", "EUR"))
            + " "
            * (OVERSIZED_BYTES - len(json.dumps(_tx(f"{p}-big-ok", f"{acct}-big", "3.00", "EUR")))),
            f"{p}-big-ok",
            f"{acct}-big",
            "EUR",
            300,
        ),
    )

    hostile = (
        # --- not JSON
        case("not-json", "{not json", "invalid", NOT_JSON),
        case("truncated-json", '{"transaction_id": "x", "amount": "1.0', "invalid", NOT_JSON),
        case("white-space-only", " \t\n ", "invalid", NOT_JSON),
        case("xml", "<transaction id='1'/>", "invalid", NOT_JSON),
        case("utf8-bom", "\ufeff" + json.dumps(bad("bom")), "invalid", NOT_JSON),
        case(
            "nan-literal",
            json.dumps(bad("nan-lit")).replace('"1.00"', "NaN"),
            "invalid",
            "NaN is not a JSON number",
        ),
        case(
            "infinity-literal",
            json.dumps(bad("inf-lit")).replace('"1.00"', "Infinity"),
            "invalid",
            "Infinity is not a JSON number",
        ),
        case(
            "minus-infinity-literal",
            json.dumps(bad("ninf-lit")).replace('"1.00"', "-Infinity"),
            "invalid",
            "-Infinity is not a JSON number",
        ),
        case(
            "integer-of-5000-digits",
            json.dumps(bad("bigint")).replace('"1.00"', "9" * 5000),
            "invalid",
            NOT_JSON,
        ),
        # Two members of one name: parsers disagree on which wins (I-JSON refuses them).
        case(
            "duplicate-member-amount",
            json.dumps(bad("dup-amt"))[:-1] + ', "amount": "1000.00"}',
            "invalid",
            "two members of the same name",
        ),
        case(
            "duplicate-member-nested",
            json.dumps(bad("dup-nest"))[:-1] + ', "meta": {"k": 1, "k": 2}}',
            "invalid",
            "two members of the same name",
        ),
        # --- JSON, not an object
        case("json-array", "[]", "invalid", NOT_OBJECT + " (got list)"),
        case("json-array-of-transactions", json.dumps([bad("in-list")]), "invalid", "(got list)"),
        case("json-string", json.dumps(json.dumps(bad("stringified"))), "invalid", "(got str)"),
        case("json-number", "42", "invalid", "(got int)"),
        case("json-null", "null", "invalid", "(got NoneType)"),
        case("json-true", "true", "invalid", "(got bool)"),
        # --- the idempotency key
        case(
            "key-missing",
            {k: v for k, v in bad("x").items() if k != "transaction_id"},
            "invalid",
            KEY_MISSING,
        ),
        case("key-null", bad("x", transaction_id=None), "invalid", KEY_MISSING),
        case(
            "key-other-case",
            {
                "Transaction_Id": f"{p}-case",
                **{k: v for k, v in bad("x").items() if k != "transaction_id"},
            },
            "invalid",
            KEY_MISSING,
        ),
        case("key-empty", bad("x", transaction_id=""), "invalid", KEY_EMPTY),
        case("key-blank", bad("x", transaction_id="   "), "invalid", KEY_EMPTY),
        case(
            "key-integer", bad("x", transaction_id=12345), "invalid", KEY_NOT_STRING + " (got int)"
        ),
        case("key-float", bad("x", transaction_id=1.5), "invalid", KEY_NOT_STRING + " (got float)"),
        case("key-bool", bad("x", transaction_id=True), "invalid", KEY_NOT_STRING + " (got bool)"),
        case("key-list", bad("x", transaction_id=[f"{p}-l"]), "invalid", "(got list)"),
        case("key-object", bad("x", transaction_id={"id": f"{p}-o"}), "invalid", "(got dict)"),
        case(
            "key-nested-objects",
            bad("x", transaction_id={"a": {"b": {"c": "d"}}}),
            "invalid",
            "(got dict)",
        ),
        case("key-over-1024-bytes", bad("x", transaction_id="k" * 1025), "invalid", KEY_TOO_LONG),
        case(
            "key-over-128-chars",
            bad("x", transaction_id="k" * 129),
            "invalid",
            "transaction_id: " + ID_RULE,
        ),
        # --- oversized bodies (256 KiB)
        case(
            "oversized-extra-field",
            _padded(bad("big-pad"), "padding", OVERSIZED_BYTES),
            "invalid",
            "body: " + EXTRA_FIELD,
        ),
        case(
            "oversized-account-id",
            _padded(bad("big-acct"), "account_id", OVERSIZED_BYTES),
            "invalid",
            "account_id: " + ID_RULE,
        ),
        case(
            "oversized-key",
            _padded(bad("big-key"), "transaction_id", OVERSIZED_BYTES),
            "invalid",
            KEY_TOO_LONG,
        ),
        # --- deeply nested JSON
        case("nested-arrays-100k", "[" * 100_000 + "]" * 100_000, "invalid", NESTED),
        case("nested-objects-20k", '{"a":' * 20_000 + "1" + "}" * 20_000, "invalid", NESTED),
        case(
            "nested-in-a-transaction",
            json.dumps(bad("deep-field")).rstrip("}")
            + ', "meta": '
            + "[" * 50_000
            + "]" * 50_000
            + "}",
            "invalid",
            NESTED,
        ),
        case(
            "moderately-nested-extra",
            bad("meta", meta=json.loads("[" * 500 + "]" * 500)),
            "invalid",
            "body: " + EXTRA_FIELD,
        ),
        # --- unicode and control characters in ids
        case("id-accented", bad("é"), "invalid", "transaction_id: " + ID_RULE),
        case("id-emoji", bad("\U0001f4b8"), "invalid", "transaction_id: " + ID_RULE),
        case("id-nul", bad("nul\u0000x"), "invalid", "transaction_id: " + ID_RULE),
        case(
            "id-newline-at-end",
            bad("x", transaction_id=f"{p}-nl\n"),
            "invalid",
            "transaction_id: " + ID_RULE,
        ),
        case("id-zero-width-space", bad("zw\u200bsp"), "invalid", "transaction_id: " + ID_RULE),
        case(
            "id-right-to-left-override",
            bad("rtl\u202eokay"),
            "invalid",
            "transaction_id: " + ID_RULE,
        ),
        case(
            "id-fullwidth", bad("\uff46\uff55\uff4c\uff4c"), "invalid", "transaction_id: " + ID_RULE
        ),
        case(
            "id-leading-dot",
            bad("x", transaction_id=".hidden"),
            "invalid",
            "transaction_id: " + ID_RULE,
        ),
        case(
            "account-control-chars",
            bad("acct-ctl", account_id="acct\u0001\u001f\u007f"),
            "invalid",
            "account_id: " + ID_RULE,
        ),
        case(
            "account-newline",
            bad("acct-nl", account_id=f"{acct}\n"),
            "invalid",
            "account_id: " + ID_RULE,
        ),
        case(
            "account-raw-unicode",
            json.dumps(bad("acct-uni", account_id="kónto-ü-中"), ensure_ascii=False),
            "invalid",
            "account_id: " + ID_RULE,
        ),
        case(
            "account-lone-surrogate",
            bad("acct-sur", account_id="a\ud800b"),
            "invalid",
            "account_id: ",
        ),
        case(
            "account-empty", bad("acct-empty", account_id=""), "invalid", "account_id: " + ID_RULE
        ),
        case(
            "account-number",
            bad("acct-num", account_id=7),
            "invalid",
            "account_id: Input should be a valid string",
        ),
        case(
            "account-missing",
            {k: v for k, v in bad("acct-miss").items() if k != "account_id"},
            "invalid",
            "account_id: Field required",
        ),
        # --- amounts
        case(
            "amount-3-decimals",
            bad("amt-3dp", amount="1.001"),
            "invalid",
            "amount: EUR has 2 decimal places, got 3",
        ),
        case(
            "amount-half-yen",
            bad("amt-jpy", amount="100.50", currency="JPY"),
            "invalid",
            "amount: JPY has 0 decimal places, got 2",
        ),
        case(
            "amount-4-decimals-dinar",
            bad("amt-kwd", amount="1.0005", currency="KWD"),
            "invalid",
            "amount: KWD has 3 decimal places, got 4",
        ),
        case(
            "amount-beyond-64-bit-yen",
            bad("amt-jpy-2p63", amount=str(MAX_MINOR + 1), currency="JPY"),
            "invalid",
            AMOUNT_RANGE,
        ),
        case("amount-exponent", bad("amt-exp", amount="1e3"), "invalid", AMOUNT_RULE),
        case("amount-exponent-upper", bad("amt-exp2", amount="1E-2"), "invalid", AMOUNT_RULE),
        case("amount-nan-string", bad("amt-nan", amount="NaN"), "invalid", AMOUNT_RULE),
        case("amount-infinity-string", bad("amt-inf", amount="Infinity"), "invalid", AMOUNT_RULE),
        case("amount-minus-inf-string", bad("amt-ninf", amount="-inf"), "invalid", AMOUNT_RULE),
        case("amount-json-number", bad("amt-num", amount=10.5), "invalid", AMOUNT_TYPE),
        case("amount-json-integer", bad("amt-int", amount=10), "invalid", AMOUNT_TYPE),
        case(
            "amount-json-exponent",
            json.dumps(bad("amt-jexp")).replace('"1.00"', "1e400"),
            "invalid",
            AMOUNT_TYPE,
        ),
        case("amount-null", bad("amt-null", amount=None), "invalid", AMOUNT_TYPE),
        case(
            "amount-beyond-64-bit-cents",
            bad("amt-2p63", amount="92233720368547758.08"),
            "invalid",
            AMOUNT_RANGE,
        ),
        case(
            "amount-negative-beyond-64-bit",
            bad("amt-n2p63", amount="-92233720368547758.09"),  # -2**63 - 1 cents
            "invalid",
            AMOUNT_RANGE,
        ),
        case("amount-far-beyond-64-bit", bad("amt-huge", amount="9" * 40), "invalid", AMOUNT_RANGE),
        case("amount-negative-zero", bad("amt-nz", amount="-0"), "invalid", AMOUNT_ZERO),
        case("amount-negative-zero-cents", bad("amt-nz2", amount="-0.00"), "invalid", AMOUNT_ZERO),
        case("amount-zero", bad("amt-z", amount="0"), "invalid", AMOUNT_ZERO),
        case("amount-plus-sign", bad("amt-plus", amount="+1.00"), "invalid", AMOUNT_RULE),
        case("amount-leading-zero", bad("amt-lz", amount="01.00"), "invalid", AMOUNT_RULE),
        case("amount-trailing-dot", bad("amt-dot", amount="1."), "invalid", AMOUNT_RULE),
        case("amount-leading-dot", bad("amt-ldot", amount=".5"), "invalid", AMOUNT_RULE),
        case("amount-hex", bad("amt-hex", amount="0x10"), "invalid", AMOUNT_RULE),
        case("amount-spaces", bad("amt-sp", amount=" 1.00 "), "invalid", AMOUNT_RULE),
        case("amount-comma", bad("amt-comma", amount="1,00"), "invalid", AMOUNT_RULE),
        case(
            "amount-fullwidth-digits",
            bad("amt-fw", amount="\uff11.\uff10\uff10"),
            "invalid",
            AMOUNT_RULE,
        ),
        case("amount-trailing-newline", bad("amt-nl", amount="1.00\n"), "invalid", AMOUNT_RULE),
        # --- currency
        case("currency-unknown", bad("cur-xxx", currency="XXX"), "invalid", CURRENCY_RULE),
        case("currency-crypto", bad("cur-btc", currency="BTC"), "invalid", CURRENCY_RULE),
        case("currency-lower-case", bad("cur-lc", currency="eur"), "invalid", CURRENCY_RULE),
        case("currency-symbol", bad("cur-sym", currency="€"), "invalid", CURRENCY_RULE),
        case("currency-empty", bad("cur-empty", currency=""), "invalid", CURRENCY_RULE),
        case(
            "currency-number",
            bad("cur-num", currency=978),
            "invalid",
            "currency: Input should be a valid string",
        ),
        # --- structure: fields that would steer the write, or smuggle data
        case(
            "extra-table-name",
            bad("xt", TableName="other-table"),
            "invalid",
            "body: " + EXTRA_FIELD,
        ),
        case(
            "nested-object-transaction",
            {"transaction_id": f"{p}-wrapped", "transaction": bad("w")},
            "invalid",
            "body: " + EXTRA_FIELD,
        ),
        # --- the same transaction id with another payload (after the originals)
        case("conflict-amount", {**first, "amount": "1000.00"}, "conflict", CONFLICT),
        case("conflict-account", {**second, "account_id": f"{acct}-thief"}, "conflict", CONFLICT),
        case("conflict-currency", {**third, "currency": "USD"}, "conflict", CONFLICT),
        case("conflict-sign", {**first, "amount": "-10.00"}, "conflict", CONFLICT),
        # Valid JSON ("\ud800" on the wire) that is no Unicode text: refused, not a crash.
        case("key-lone-surrogate", bad("x", transaction_id="tx-\ud800"), "invalid", "Unicode"),
    )

    return Corpus(originals=originals, valid=valid, hostile=hostile)
