"""What an atomic effect writes to DynamoDB, per message, merged per item for a batch.

One ``TransactWriteItems`` carries a whole batch: every message's record and every
message's effect. A transaction may not touch an item twice, yet messages of one batch
often touch the same item (two credits to one account, two orders of one SKU), so the
layer merges their writes into one item and remembers which messages each item carries.
When DynamoDB cancels the transaction, its cancellation reasons name the items at fault,
and through this bookkeeping the messages at fault: refused alone, never with the batch.

Powertools has no such helper (its idempotency utility never writes the effect);
``attributes.attribute_value`` does the value conversion, as boto3's ``TypeSerializer``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, localcontext
from typing import Any

from .attributes import DYNAMODB_CONTEXT, attribute_value
from .values import EMPTY, Value

Number = int | Decimal


def _typed(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: attribute_value(value) for name, value in values.items()}


class Add(Value):
    """Add ``amounts`` to numeric attributes of one item, created if absent (a counter, a
    balance). Adds of several messages to one item are summed into one write.

    ``within``: bounds (low, high) an attribute must stay within after the add; the add is
    refused with ``refusal`` rather than leave them (a balance kept to 64 bits).
    ``initial``: attributes written when the item is created and never changed after (a
    unit, a currency's exponent): ``SET name = if_not_exists(name, value)``. Where several
    messages add to one item, the first one's value stands.
    """

    table: str
    key: Mapping[str, Any]
    amounts: Mapping[str, Number]
    within: Mapping[str, tuple[Number, Number]] = EMPTY
    refusal: str = ""
    initial: Mapping[str, Any] = EMPTY

    def __post_init__(self) -> None:
        unbounded = sorted(set(self.within) - set(self.amounts))
        if unbounded:
            raise ValueError(f"Add.within names attributes it does not add to: {unbounded}")
        both = sorted(set(self.initial) & set(self.amounts))
        if both:
            raise ValueError(f"Add.initial names attributes it adds to: {both}")
        keys = sorted(set(self.initial) & set(self.key))
        if keys:
            raise ValueError(f"Add.initial names key attributes: {keys}")


class Take(Value):
    """Subtract ``amount`` from a numeric attribute; refused with ``refusal`` rather than go
    below zero (or when the item or attribute is missing). Takes of several messages from
    one item are summed into one conditional write."""

    table: str
    key: Mapping[str, Any]
    attribute: str
    amount: Number
    refusal: str = ""

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError(f"Take.amount must not be negative, got {self.amount}")


class PutIfAbsent(Value):
    """Create an item (``key`` plus ``attributes``); refused with ``refusal`` if an item with
    that key exists."""

    table: str
    key: Mapping[str, Any]
    attributes: Mapping[str, Any] = EMPTY
    refusal: str = ""


class TransactItem(Value):
    """Any ``TransactItems`` entry (``{"Put": ...}``, ``{"Update": ...}``,
    ``{"ConditionCheck": ...}``), as is. Not merged: if two messages of a batch touch the
    same item this way, DynamoDB refuses the transaction and the layer splits the batch
    until each goes alone. A failed condition refuses the message with ``refusal``."""

    item: Mapping[str, Any]
    refusal: str = ""


Write = Add | Take | PutIfAbsent | TransactItem


class PlannedItem:
    """One ``TransactItems`` entry of the effect and the messages (by index) it carries."""

    def __init__(self, item: dict[str, Any], sources: tuple[int, ...], refusals: dict[int, str]):
        self.item = item
        self.sources = sources
        self.refusals = refusals

    @property
    def table(self) -> str:
        operation = next(iter(self.item.values()))
        return str(operation.get("TableName", "?"))


class _Counter:
    """The merged Adds and Takes on one item."""

    def __init__(self, table: str, key: dict[str, dict[str, Any]]) -> None:
        self.table = table
        self.key = key
        self.deltas: dict[str, Number] = {}
        self.needed: dict[str, Number] = {}  # attribute -> total taken
        self.lowered: dict[str, Number] = {}  # attribute -> negative adds
        self.bounds: dict[str, tuple[Number, Number]] = {}
        self.initial: dict[str, Any] = {}
        self.sources: list[int] = []
        self.refusals: dict[int, str] = {}

    def add(self, source: int, write: Add | Take) -> None:
        if source not in self.sources:
            self.sources.append(source)
        if isinstance(write, Add):
            for name, value in write.initial.items():
                self.initial.setdefault(name, value)
            for name, amount in write.amounts.items():
                self.deltas[name] = self.deltas.get(name, 0) + amount
                if amount < 0:
                    self.lowered[name] = self.lowered.get(name, 0) - amount
            for name, (low, high) in write.within.items():
                known = self.bounds.get(name, (low, high))
                self.bounds[name] = (max(low, known[0]), min(high, known[1]))
                reason = write.refusal or f"{name} in {write.table} would leave [{low}, {high}]"
                self.refusals[source] = _joined(self.refusals.get(source), reason)
            return
        self.deltas[write.attribute] = self.deltas.get(write.attribute, 0) - write.amount
        self.needed[write.attribute] = self.needed.get(write.attribute, 0) + write.amount
        reason = write.refusal or f"{write.attribute} in {write.table} would go below zero"
        self.refusals[source] = _joined(self.refusals.get(source), reason)

    def item(self) -> PlannedItem:
        names: dict[str, str] = {}
        values: dict[str, dict[str, Any]] = {}
        adds = []
        for index, (name, delta) in enumerate(self.deltas.items()):
            names[f"#a{index}"] = name
            values[f":a{index}"] = attribute_value(delta)
            adds.append(f"#a{index} :a{index}")
        expression = "ADD " + ", ".join(adds)
        sets = []
        for index, (name, value) in enumerate(self.initial.items()):
            names[f"#s{index}"] = name
            values[f":s{index}"] = attribute_value(value)
            sets.append(f"#s{index} = if_not_exists(#s{index}, :s{index})")
        if sets:
            expression += " SET " + ", ".join(sets)
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": self.key,
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        conditions = []
        placeholders = {v: k for k, v in names.items()}
        for index, (name, needed) in enumerate(self.needed.items()):
            # Every decrease of a taken attribute counts, as if the takes came last: the
            # condition may be stricter than one order of the messages needs (then the
            # batch is split and tried in order), never looser.
            values[f":n{index}"] = attribute_value(needed + self.lowered.get(name, 0))
            conditions.append(f"{placeholders[name]} >= :n{index}")
        for index, (name, (low, high)) in enumerate(self.bounds.items()):
            # After the add, low <= value + delta <= high: bound the value before it.
            delta = self.deltas.get(name, 0)
            values[f":l{index}"] = attribute_value(low - delta)
            values[f":h{index}"] = attribute_value(high - delta)
            placeholder = placeholders[name]
            between = f"{placeholder} BETWEEN :l{index} AND :h{index}"
            if low <= delta <= high:  # an absent attribute starts from zero
                between = f"(attribute_not_exists({placeholder}) OR {between})"
            conditions.append(between)
        if conditions:
            update["ConditionExpression"] = " AND ".join(conditions)
        return PlannedItem({"Update": update}, tuple(self.sources), dict(self.refusals))


def _joined(first: str | None, second: str) -> str:
    return second if not first or first == second else f"{first}; {second}"


def _item_identity(table: str, key: Mapping[str, Any]) -> str:
    return table + "\0" + json.dumps(key, sort_keys=True, default=str)


def plan(writes_per_message: Sequence[Iterable[Write]]) -> list[PlannedItem]:
    """The effect's ``TransactItems`` for a batch, counters merged per item, with sources.

    ``writes_per_message[i]`` are the writes of the batch's i-th message.
    """
    with localcontext(DYNAMODB_CONTEXT):  # DynamoDB's 38 digits; inexact sums raise
        return _plan(writes_per_message)


def _plan(writes_per_message: Sequence[Iterable[Write]]) -> list[PlannedItem]:
    counters: dict[str, _Counter] = {}
    planned: list[PlannedItem] = []
    for source, writes in enumerate(writes_per_message):
        for write in writes:
            if isinstance(write, Add | Take):
                key = _typed(write.key)
                identity = _item_identity(write.table, key)
                counter = counters.setdefault(identity, _Counter(write.table, key))
                counter.add(source, write)
            elif isinstance(write, PutIfAbsent):
                planned.append(_put_if_absent(source, write))
            elif isinstance(write, TransactItem):
                reason = write.refusal or "the effect's condition failed"
                planned.append(PlannedItem(dict(write.item), (source,), {source: reason}))
            else:
                raise TypeError(f"not an effect write: {write!r}")
    return [counter.item() for counter in counters.values()] + planned


def _put_if_absent(source: int, write: PutIfAbsent) -> PlannedItem:
    if not write.key:
        raise ValueError(f"PutIfAbsent on {write.table} needs its key attributes")
    first_key = next(iter(write.key))
    put = {
        "TableName": write.table,
        "Item": {**_typed(write.attributes), **_typed(write.key)},
        "ConditionExpression": "attribute_not_exists(#k)",
        "ExpressionAttributeNames": {"#k": first_key},
    }
    reason = write.refusal or f"an item with this key already exists in {write.table}"
    return PlannedItem({"Put": put}, (source,), {source: reason})
