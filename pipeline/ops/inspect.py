"""`pipeline inspect KEY`: the key's idempotency record, read as support needs it.

Works on any consumer: the key is what the consumer reads at its key path (a ledger's
transaction id, an order id, ...). The record id is computed as the consumer computes it
(``exactly_once.keys.KeySpec``), with the key prefix and path read from the deployed
function's configuration, never assumed.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.ops.dlq import key_label
from pipeline.ops.errors import ExitCode, OpsError
from pipeline.ops.status import duration
from pipeline.ops.targets import DEFAULT_KEY_PATH, Target

PREFIX_VARIABLE = "IDEMPOTENCY_KEY_PREFIX"
PATH_VARIABLE = "IDEMPOTENCY_KEY_PATH"


@dataclass(frozen=True)
class Inspection:
    transaction_id: str  # the key inspected (a transaction id for the ledger)
    record_id: str
    found: bool
    key_path: str = DEFAULT_KEY_PATH
    status: str = ""
    payload_hash: str = ""
    expiration: int = 0
    updated_at_ms: int = 0
    message_id: str = ""
    lease_owner: str | None = None
    lease_expiry_ms: int | None = None
    attempt: int = 0
    previous_owner: str | None = None
    now: float = 0.0

    @property
    def answer(self) -> str:
        """The one-line answer to "was this processed?"."""
        if not self.found:
            return (
                "NOT PROCESSED: no record (never processed, still waiting in the queue, "
                "dead-lettered as invalid, or its retention ended)"
            )
        if self.expiration <= self.now:
            return "EXPIRED: processed once, but the record's retention has ended"
        if self.status == "COMPLETED":
            return "PROCESSED: applied once; resends of the same payload are ignored"
        if self.lease_expiry_ms is not None and self.lease_expiry_ms > self.now * 1000:
            return "IN PROGRESS: an invocation holds the lease right now"
        return "IN PROGRESS, LEASE EXPIRED: the next delivery takes it over"


def record_id_for(target: Target, transaction_id: str) -> str:
    from exactly_once.errors import ConfigurationError
    from exactly_once.keys import KeySpec

    environment = target.function_environment
    prefix = environment.get(PREFIX_VARIABLE)
    if not prefix:
        raise OpsError(
            f"the function {target.function_name} has no {PREFIX_VARIABLE}: "
            "cannot compute its record ids"
        )
    try:
        spec = KeySpec(prefix=prefix, path=environment.get(PATH_VARIABLE) or DEFAULT_KEY_PATH)
    except ConfigurationError as exc:
        raise OpsError(f"the function's key configuration is unusable: {exc}") from exc
    return spec.record_id(transaction_id)


def inspect_transaction(target: Target, transaction_id: str, now: float) -> Inspection:
    from exactly_once.records import IdempotencyRecord

    record_id = record_id_for(target, transaction_id)
    key_path = target.key_path
    item: dict[str, Any] | None = (
        target.client("dynamodb")
        .get_item(
            TableName=target.consumer.idempotency_table_name,
            Key={"id": {"S": record_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if item is None:
        return Inspection(transaction_id, record_id, found=False, key_path=key_path, now=now)
    record = IdempotencyRecord.from_item(item)
    return Inspection(
        transaction_id=transaction_id,
        record_id=record_id,
        found=True,
        key_path=key_path,
        status=record.status.value,
        payload_hash=record.payload_hash,
        expiration=record.expiration,
        updated_at_ms=record.updated_at_ms,
        message_id=record.message_id,
        lease_owner=record.lease_owner,
        lease_expiry_ms=record.lease_expiry_ms,
        attempt=record.attempt,
        previous_owner=record.previous_owner,
        now=now,
    )


def _when(epoch_seconds: float, now: float) -> str:
    stamp = datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="seconds")
    delta = epoch_seconds - now
    relative = f"in {duration(delta)}" if delta > 0 else f"{duration(-delta)} ago"
    return f"{stamp} ({relative})"


def render(found: Inspection) -> str:
    lines = [
        f"{key_label(found.key_path)} {found.transaction_id}",
        f"  record id      {found.record_id}",
    ]
    if found.found:
        lines += [
            f"  status         {found.status}",
            f"  payload hash   {found.payload_hash}",
            f"  expires        {_when(found.expiration, found.now)}",
            f"  updated        {_when(found.updated_at_ms / 1000, found.now)}",
            f"  message id     {found.message_id}",
            f"  attempt        {found.attempt}",
        ]
        if found.lease_owner is not None or found.lease_expiry_ms is not None:
            lease_end = (
                _when(found.lease_expiry_ms / 1000, found.now)
                if found.lease_expiry_ms is not None
                else "no expiry"
            )
            lines.append(f"  lease          {found.lease_owner or '-'} until {lease_end}")
        else:
            lines.append("  lease          none")
        if found.previous_owner:
            lines.append(f"  previous owner {found.previous_owner}")
    lines.append(found.answer)
    return "\n".join(lines)


def run_inspect(args: argparse.Namespace) -> int:
    found = inspect_transaction(Target.from_args(args), args.transaction_id, time.time())
    if args.json:
        print(json.dumps(dict(asdict(found), answer=found.answer), sort_keys=True))
    else:
        print(render(found))
    return ExitCode.OK if found.found else ExitCode.MISMATCH
