"""Leased mode: for effects outside DynamoDB, which no transaction can include.

Per message: take a lease (a conditional put of an INPROGRESS record naming this
invocation as owner), apply the effect, then complete the record. Completing and releasing
are conditional on still being the owner (fencing), so an invocation whose lease ran out
can never overwrite or delete its successor's record. The record id is handed to the
effect as the idempotency key for the external system: if a crash strikes between the
effect and the completion, the next attempt (``attempt`` > 1 in the record) repeats the
call with the same key, and a system that honours keys applies it once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from .clock import Clock
from .config import ExactlyOnceConfig
from .downstream import UnsendableDownstream, attach_downstream, prepare_downstream
from .errors import LeaseLost, Refused
from .messages import Candidate, Decision, admit, is_fifo, payload_hook
from .outcomes import Outcome
from .protocol import Verdict, classify, expiration_for, lease_expiry_for, now_millis
from .records import IdempotencyRecord, RecordStatus
from .store import IdempotencyStore

M = TypeVar("M")

_AWS_ERRORS = (ClientError, BotoCoreError)


class LeasedEffect(Protocol[M]):
    """A consumer's business logic, for effects that live outside DynamoDB."""

    def parse(self, document: dict[str, Any]) -> M:
        """The message in a decoded body, or InvalidMessage naming the field at fault."""
        ...

    def apply(self, message: M, idempotency_key: str, attempt: int) -> None:
        """Apply the effect; pass ``idempotency_key`` on where the target system takes one.

        Raise ``Refused`` when the target says no for good ("payment declined"): the lease
        is released and the message dead-lettered with the reason. Any other exception is
        retried.
        """
        ...


class LeasedConsumer(Generic[M]):
    """Decides a batch one message at a time under leases."""

    def __init__(
        self,
        *,
        config: ExactlyOnceConfig,
        client: Any,
        effect: LeasedEffect[M],
        clock: Clock,
    ) -> None:
        self._config = config
        self._store = IdempotencyStore(client, config.table_name)
        self._effect = effect
        self._payload = payload_hook(effect)
        self._clock = clock

    def decide(
        self,
        records: Sequence[Mapping[str, Any]],
        remaining_millis: Callable[[], int | None] = lambda: None,
    ) -> dict[str, Decision]:
        fifo = is_fifo(records)
        failed_groups: set[str] = set()
        decisions: dict[str, Decision] = {}
        for record in records:
            admitted = admit(record, self._config.key, self._effect.parse, self._payload)
            if isinstance(admitted, Decision):
                decisions[record["messageId"]] = admitted
                continue
            if fifo and admitted.group_id in failed_groups:
                decisions[admitted.message_id] = Decision(
                    Outcome.FAILED,
                    admitted.record_id,
                    "an earlier message of its FIFO group is retried first",
                )
                continue
            try:  # checked before the lease: a broken hook fails the message before its effect
                downstream = prepare_downstream(self._effect, admitted.message)
            except UnsendableDownstream as exc:
                decision = Decision(Outcome.FAILED, admitted.record_id, f"{exc}; retried")
            else:
                decision = self._process(admitted, remaining_millis())
                decisions[admitted.message_id] = decision
                attach_downstream({admitted.message_id: downstream}, [admitted], decisions)
                decision = decisions[admitted.message_id]
            decisions[admitted.message_id] = decision
            if decision.outcome.is_item_failure and admitted.group_id is not None:
                failed_groups.add(admitted.group_id)
        return decisions

    def _process(self, candidate: Candidate[M], remaining: int | None) -> Decision:
        now = self._clock.now()
        owner = str(uuid.uuid4())
        lease = IdempotencyRecord(
            id=candidate.record_id,
            status=RecordStatus.INPROGRESS,
            payload_hash=candidate.payload_hash,
            expiration=expiration_for(now, self._config.retention_seconds),
            updated_at_ms=now_millis(now),
            message_id=candidate.message_id,
            lease_owner=owner,
            lease_expiry_ms=lease_expiry_for(now, self._config.max_lease_seconds, remaining),
        )
        if remaining is not None and remaining <= 0:
            why = "no time left in the invocation to take a lease"
            return Decision(Outcome.FAILED, candidate.record_id, why)
        try:
            claim = self._store.acquire(lease, now)
        except _AWS_ERRORS as exc:
            return Decision(Outcome.FAILED, candidate.record_id, f"could not take the lease: {exc}")
        except (KeyError, ValueError) as exc:  # the record held is not one of ours
            why = f"existing record unreadable: {type(exc).__name__}"
            return Decision(Outcome.FAILED, candidate.record_id, why)
        if not claim.won:
            return self._refused(candidate, claim.existing, now)

        # A previous lease on this key (INPROGRESS, expired) may have applied the effect.
        attempt = claim.existing.attempt + 1 if claim.existing else 1

        try:
            self._effect.apply(candidate.message, candidate.record_id, attempt)
        except Refused as exc:
            # No COMPLETED record: a redrive after the cause is fixed is evaluated again.
            if not self._release_quietly(candidate.record_id, owner, self._clock.now()):
                # Another invocation took the key meanwhile and may apply it: not ours to
                # dead-letter; the retry finds its outcome.
                why = f"refused ({exc.reason}), but the lease was lost meanwhile; retry"
                return Decision(Outcome.FAILED, candidate.record_id, why)
            return Decision(Outcome.REFUSED, candidate.record_id, exc.reason)
        except Exception as exc:  # noqa: BLE001 - any effect failure means "retry later"
            self._release_quietly(candidate.record_id, owner, self._clock.now())
            return Decision(Outcome.FAILED, candidate.record_id, f"effect raised {exc!r}")

        try:
            self._store.complete(candidate.record_id, owner, self._clock.now())
        except LeaseLost as exc:
            # Our lease ran out and another invocation owns the key now; its record stands.
            return Decision(Outcome.FAILED, candidate.record_id, f"{exc}; effect applied")
        except _AWS_ERRORS as exc:
            return Decision(
                Outcome.FAILED, candidate.record_id, f"effect applied, not recorded: {exc}"
            )
        return Decision(Outcome.PROCESSED, candidate.record_id)

    def _refused(
        self, candidate: Candidate[M], existing: IdempotencyRecord | None, now: float
    ) -> Decision:
        verdict = classify(existing, candidate.payload_hash, now)
        if existing is None or verdict is Verdict.CLAIMABLE:
            return Decision(Outcome.IN_PROGRESS, candidate.record_id, "key changed hands; retry")
        if verdict is Verdict.DUPLICATE:
            why = f"already processed as message {existing.message_id}"
            return Decision(Outcome.DUPLICATE, candidate.record_id, why)
        if verdict is Verdict.CONFLICT:
            why = f"key already used by message {existing.message_id} with a different payload"
            return Decision(Outcome.CONFLICT, candidate.record_id, why)
        why = f"key leased by {existing.lease_owner} until {existing.lease_expiry_ms} ms"
        return Decision(Outcome.IN_PROGRESS, candidate.record_id, why)

    def _release_quietly(self, record_id: str, owner: str, now: float) -> bool:
        """Free the key for a retry; if that fails the lease simply runs out. False when
        another invocation holds the key now."""
        try:
            self._store.release(record_id, owner, now)
        except LeaseLost:
            return False
        except _AWS_ERRORS:
            pass
        return True
