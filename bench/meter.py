"""Counting a DynamoDB client's requests, and pricing each in capacity units, via botocore hooks.

Hooks on one client (never the session, so each side of the benchmark has its own count):

- ``provide-client-params``: count the request; when pricing, read the items it touches
  beforehand through an uninstrumented probe client;
- ``before-send`` (first, ahead of moto's stub): sleep the simulated AWS round trip, then
  start timing moto;
- ``before-parse``: stop timing moto (its CPU time stands in for AWS's, which the sleep
  models, so throughput figures subtract it);
- ``after-call``: price the request from the before and after images and its outcome.

Capacity is tallied twice, as bounds: a cancelled ``TransactWriteItems`` is billed in
full, every action doubled, for the upper bound (``capacity.py``'s assumption, which AWS
does not document), and as nothing for the lower bound. Every other request counts the
same in both.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.capacity import item_size, read_units, write_units

_CONDITION_FAILED = "ConditionalCheckFailedException"
_CANCELLED = "TransactionCanceledException"
_TRANSACT_KINDS = {"Put": "put", "Update": "update", "Delete": "delete", "ConditionCheck": "check"}


@dataclass
class Tally:
    """What one phase of a run cost on one client."""

    requests: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    write_units_upper: float = 0.0
    read_units_upper: float = 0.0
    write_units_lower: float = 0.0
    read_units_lower: float = 0.0
    cancelled_transactions: int = 0
    # Items across every TransactWriteItems request (the sensitivity rows make a
    # transaction's modeled round trip grow with them: bench/report.py).
    transact_items: int = 0
    unpriced_requests: int = 0
    moto_seconds: float = 0.0
    simulated_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "operations": dict(self.operations),
            "write_units_upper": self.write_units_upper,
            "write_units_lower": self.write_units_lower,
            "read_units_upper": self.read_units_upper,
            "read_units_lower": self.read_units_lower,
            "cancelled_transactions": self.cancelled_transactions,
            "transact_items": self.transact_items,
            "unpriced_requests": self.unpriced_requests,
            "moto_seconds": self.moto_seconds,
            "simulated_seconds": self.simulated_seconds,
        }


@dataclass
class _Action:
    """One item a request touches, with its size before the request."""

    kind: str  # put | update | delete | check | get
    table: str
    key: dict[str, Any]
    sent_size: int
    before_size: int
    consistent: bool = True


class DynamoDBMeter:
    """Counts (and, given a probe client, prices) the requests of the clients it is attached to."""

    def __init__(self, *, round_trip_seconds: float = 0.0, probe: Any | None = None) -> None:
        self.round_trip_seconds = round_trip_seconds
        self._probe: Any = probe
        self._pricing = probe is not None
        self._key_schemas: dict[str, list[str]] = {}
        self._send_started = 0.0
        self.phase = "setup"
        self.tallies: dict[str, Tally] = {}

    def tally(self, phase: str | None = None) -> Tally:
        return self.tallies.setdefault(phase or self.phase, Tally())

    def attach(self, client: Any) -> Any:
        """Instrument ``client`` (a boto3 DynamoDB client) and return it."""
        events = client.meta.events
        events.register("provide-client-params.dynamodb", self._on_params)
        events.register_first("before-send.dynamodb", self._on_send)
        events.register("before-parse.dynamodb", self._on_response)
        events.register("after-call.dynamodb", self._on_after_call)
        return client

    # --- hooks ---------------------------------------------------------------------------

    def _on_params(self, params: dict[str, Any], model: Any, context: Any, **_: Any) -> None:
        tally = self.tally()
        tally.requests += 1
        tally.operations[model.name] += 1
        if model.name == "TransactWriteItems":
            tally.transact_items += len(params["TransactItems"])
        if self._pricing:
            actions = self._actions(model.name, params)
            if actions is None:
                tally.unpriced_requests += 1
            else:
                context["bench_actions"] = (model.name, actions)

    def _on_send(self, **_: Any) -> None:
        if self.round_trip_seconds > 0:
            time.sleep(self.round_trip_seconds)
            self.tally().simulated_seconds += self.round_trip_seconds
        self._send_started = time.perf_counter()

    def _on_response(self, **_: Any) -> None:
        self.tally().moto_seconds += time.perf_counter() - self._send_started

    def _on_after_call(
        self, http_response: Any, parsed: dict[str, Any], context: Any, **_: Any
    ) -> None:
        planned = context.get("bench_actions")
        if planned is None:
            return
        operation, actions = planned
        error = parsed.get("Error", {}).get("Code") if http_response.status_code >= 300 else None
        writes, reads = self._price(operation, actions, error, parsed)
        tally = self.tally()
        tally.write_units_upper += writes
        tally.read_units_upper += reads
        if error == _CANCELLED:
            tally.cancelled_transactions += 1  # the lower bound: billed nothing
        else:
            tally.write_units_lower += writes
            tally.read_units_lower += reads

    # --- pricing -------------------------------------------------------------------------

    def _key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        if table not in self._key_schemas:
            schema = self._probe.describe_table(TableName=table)["Table"]["KeySchema"]
            self._key_schemas[table] = [part["AttributeName"] for part in schema]
        return {name: item[name] for name in self._key_schemas[table]}

    def _stored_size(self, table: str, key: dict[str, Any]) -> int:
        response = self._probe.get_item(TableName=table, Key=key, ConsistentRead=True)
        return item_size(response.get("Item"))

    def _action(self, kind: str, spec: dict[str, Any], consistent: bool = True) -> _Action:
        table = spec["TableName"]
        key = self._key_of(table, spec["Item"]) if kind == "put" else spec["Key"]
        sent = item_size(spec["Item"]) if kind == "put" else 0
        return _Action(kind, table, key, sent, self._stored_size(table, key), consistent)

    def _actions(self, operation: str, params: dict[str, Any]) -> list[_Action] | None:
        single = {"PutItem": "put", "UpdateItem": "update", "DeleteItem": "delete"}
        if operation in single:
            return [self._action(single[operation], params)]
        if operation == "GetItem":
            return [self._action("get", params, bool(params.get("ConsistentRead")))]
        if operation == "TransactWriteItems":
            actions = []
            for entry in params["TransactItems"]:
                (name, spec), *_ = entry.items()
                actions.append(self._action(_TRANSACT_KINDS[name], spec))
            return actions
        return None  # not used by either handler; counted as unpriced

    def _price(
        self, operation: str, actions: list[_Action], error: str | None, parsed: dict[str, Any]
    ) -> tuple[float, float]:
        transactional = operation == "TransactWriteItems"
        if operation == "GetItem":
            (action,) = actions
            size = item_size(parsed.get("Item")) if error is None else action.before_size
            return 0.0, read_units(size, consistent=action.consistent)
        if error is None:
            units = 0
            for action in actions:
                after = (
                    0
                    if action.kind in ("delete", "check")
                    else self._stored_size(action.table, action.key)
                )
                units += write_units(max(action.before_size, after), transactional=transactional)
            return float(units), 0.0
        if error in (_CONDITION_FAILED, _CANCELLED):
            # A failed condition still consumes write units (documented for a single
            # write). For a cancelled transaction this is the upper bound: every action
            # billed, doubled (capacity.py's assumption, not documented by AWS).
            units = sum(
                write_units(max(a.before_size, a.sent_size), transactional=transactional)
                for a in actions
            )
            return float(units), 0.0
        return 0.0, 0.0


class CallCounter:
    """Counts the requests of the clients it is attached to, per phase and operation, for
    clients that are counted but not priced (the handlers' SQS clients)."""

    def __init__(self) -> None:
        self.phase = "setup"
        self.counts: dict[str, Counter[str]] = {}

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-call.{service}", self._on_call)
        return client

    def operations(self, phase: str) -> dict[str, int]:
        return dict(self.counts.get(phase, Counter()))

    def _on_call(self, model: Any, **_: Any) -> None:
        self.counts.setdefault(self.phase, Counter())[model.name] += 1
