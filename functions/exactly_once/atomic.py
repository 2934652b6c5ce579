"""Atomic mode: each message's effect and its COMPLETED record in one transaction.

Why not Powertools' idempotency utility: it writes its record apart from the effect, so a
crash between the two re-applies the effect once the record's lease runs out. Here there
is no such window. And why not one message per transaction: a batch of ten new messages
costs one ``TransactWriteItems`` (an all-duplicate batch too, answered by the cancellation
reasons with the existing records), where the per-message recipe costs about three
requests per message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from .clock import Clock
from .config import ExactlyOnceConfig
from .messages import Candidate, Decision, admit, group_id_of, is_fifo
from .outcomes import Outcome
from .protocol import Verdict, classify, expiration_for, now_millis
from .records import IdempotencyRecord, RecordStatus
from .store import IdempotencyStore

M = TypeVar("M")

MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
_VERDICT_OUTCOME = {
    Verdict.DUPLICATE: Outcome.DUPLICATE,
    Verdict.CONFLICT: Outcome.CONFLICT,
    Verdict.IN_PROGRESS: Outcome.IN_PROGRESS,
}


class AtomicEffect(Protocol[M]):
    """A consumer's business logic, for effects that live in DynamoDB."""

    def parse(self, document: dict[str, Any]) -> M:
        """The message in a decoded body, or InvalidMessage naming the field at fault."""
        ...

    def transact_items(self, messages: Sequence[M]) -> list[dict[str, Any]]:
        """``TransactItems`` entries applying all ``messages`` together.

        Merge writes to the same item: one transaction may not touch an item twice.
        """
        ...


def _explain(verdict: Verdict, existing: IdempotencyRecord) -> str:
    if verdict is Verdict.CONFLICT:
        return (
            f"key already used by message {existing.message_id} with a different payload "
            f"(payload hash {existing.payload_hash[:12]})"
        )
    if verdict is Verdict.IN_PROGRESS:
        return f"key leased by {existing.lease_owner} until {existing.lease_expiry_ms} ms"
    return f"already processed as message {existing.message_id}"


class AtomicConsumer(Generic[M]):
    """Decides a whole batch with as few transactions as the outcomes allow."""

    def __init__(
        self,
        *,
        config: ExactlyOnceConfig,
        client: Any,
        effect: AtomicEffect[M],
        clock: Clock,
        max_rounds: int = 3,
        messages_per_transaction: int = 50,
    ) -> None:
        self._config = config
        self._client = client
        self._store = IdempotencyStore(client, config.table_name)
        self._effect = effect
        self._clock = clock
        self._max_rounds = max_rounds
        self._per_transaction = messages_per_transaction

    def decide(
        self,
        records: Sequence[Mapping[str, Any]],
        remaining_millis: Callable[[], int | None] = lambda: None,
    ) -> dict[str, Decision]:
        now = self._clock.now()
        decisions: dict[str, Decision] = {}
        leaders: dict[str, Candidate[M]] = {}  # the first message of each key in the batch
        followers: list[Candidate[M]] = []  # later messages with a key already in the batch
        for record in records:
            admitted = admit(record, self._config.key, self._effect.parse)
            if isinstance(admitted, Decision):
                decisions[record["messageId"]] = admitted
            elif admitted.record_id in leaders:
                followers.append(admitted)
            else:
                leaders[admitted.record_id] = admitted

        known: dict[str, IdempotencyRecord] = {}  # what each key holds, as learned on the way
        order = {r["messageId"]: (i, group_id_of(r)) for i, r in enumerate(records)}
        pending = list(leaders.values())
        for _ in range(self._max_rounds):
            if is_fifo(records):
                pending = self._hold_back_failed_groups(pending, decisions, order)
            if not pending:
                break
            retry: list[Candidate[M]] = []
            # FIFO: one transaction, so that no later message of a group commits while an
            # earlier one fails (FIFO batches hold at most 10 messages).
            chunks = [pending] if is_fifo(records) else self._chunks(pending)
            for chunk in chunks:
                retry.extend(self._commit(chunk, now, decisions, known))
            pending = retry
        for candidate in pending:
            decisions[candidate.message_id] = Decision(
                Outcome.FAILED, candidate.record_id, "transaction kept being cancelled; retry later"
            )
        for follower in followers:
            decisions[follower.message_id] = self._follow(
                follower, leaders[follower.record_id], decisions, known, now
            )
        return decisions

    def _record(self, candidate: Candidate[M], now: float) -> IdempotencyRecord:
        return IdempotencyRecord(
            id=candidate.record_id,
            status=RecordStatus.COMPLETED,
            payload_hash=candidate.payload_hash,
            expiration=expiration_for(now, self._config.retention_seconds),
            updated_at_ms=now_millis(now),
            message_id=candidate.message_id,
        )

    def _chunks(self, pending: list[Candidate[M]]) -> list[list[Candidate[M]]]:
        size = self._per_transaction
        return [pending[i : i + size] for i in range(0, len(pending), size)]

    def _commit(
        self,
        chunk: list[Candidate[M]],
        now: float,
        decisions: dict[str, Decision],
        known: dict[str, IdempotencyRecord],
    ) -> list[Candidate[M]]:
        """One transaction for ``chunk``; returns the candidates to try again."""
        records = [self._record(candidate, now) for candidate in chunk]
        items = [self._store.completed_put(record, now) for record in records]
        items += self._effect.transact_items([candidate.message for candidate in chunk])
        if len(items) > MAX_TRANSACTION_ITEMS and len(chunk) > 1 and not self._fifo_chunk(chunk):
            half = len(chunk) // 2
            return self._commit(chunk[:half], now, decisions, known) + self._commit(
                chunk[half:], now, decisions, known
            )
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") != "TransactionCanceledException":
                self._fail(chunk, decisions, f"{error.get('Code')}: {error.get('Message')}")
                return []
            return self._sort_cancellation(chunk, exc.response, now, decisions, known)
        except BotoCoreError as exc:
            self._fail(chunk, decisions, f"DynamoDB unreachable: {exc}")
            return []
        for candidate, record in zip(chunk, records, strict=True):
            decisions[candidate.message_id] = Decision(Outcome.PROCESSED, candidate.record_id)
            known[candidate.record_id] = record
        return []

    def _sort_cancellation(
        self,
        chunk: list[Candidate[M]],
        response: Mapping[str, Any],
        now: float,
        decisions: dict[str, Decision],
        known: dict[str, IdempotencyRecord],
    ) -> list[Candidate[M]]:
        """Decide the messages whose record condition failed; the rest go round again."""
        reasons = list(response.get("CancellationReasons") or [])
        record_reasons = reasons[: len(chunk)] + [{}] * (len(chunk) - len(reasons))
        effect_codes = {reason.get("Code", "None") for reason in reasons[len(chunk) :]}
        if "ValidationError" in effect_codes or any(
            reason.get("Code") == "ValidationError" for reason in record_reasons
        ):
            self._fail(chunk, decisions, "transaction refused as invalid by DynamoDB")
            return []
        retry: list[Candidate[M]] = []
        for candidate, reason in zip(chunk, record_reasons, strict=True):
            if reason.get("Code") != "ConditionalCheckFailed":
                retry.append(candidate)  # cancelled because of another item, or a conflict
                continue
            try:
                item = reason.get("Item")
                existing = (
                    IdempotencyRecord.from_item(item)
                    if item
                    else self._store.get(candidate.record_id)
                )
            except (ClientError, BotoCoreError, KeyError, ValueError) as exc:
                why = f"existing record unreadable: {type(exc).__name__}"
                decisions[candidate.message_id] = Decision(Outcome.FAILED, candidate.record_id, why)
                continue
            verdict = classify(existing, candidate.payload_hash, now)
            if existing is None or verdict is Verdict.CLAIMABLE:
                retry.append(candidate)  # the record changed since the condition was checked
                continue
            known[candidate.record_id] = existing
            decisions[candidate.message_id] = Decision(
                _VERDICT_OUTCOME[verdict], candidate.record_id, _explain(verdict, existing)
            )
        return retry

    @staticmethod
    def _fifo_chunk(chunk: list[Candidate[M]]) -> bool:
        return any(candidate.group_id is not None for candidate in chunk)

    @staticmethod
    def _fail(chunk: list[Candidate[M]], decisions: dict[str, Decision], why: str) -> None:
        for candidate in chunk:
            decisions[candidate.message_id] = Decision(Outcome.FAILED, candidate.record_id, why)

    @staticmethod
    def _hold_back_failed_groups(
        pending: list[Candidate[M]],
        decisions: dict[str, Decision],
        order: Mapping[str, tuple[int, str | None]],
    ) -> list[Candidate[M]]:
        """FIFO: after a failure in a message group, nothing later in that group is applied."""
        first_failure: dict[str, int] = {}
        for message_id, decision in decisions.items():
            index, group = order[message_id]
            if decision.outcome.is_item_failure and group is not None:
                first_failure[group] = min(first_failure.get(group, index), index)
        kept: list[Candidate[M]] = []
        for candidate in pending:
            index, group = order[candidate.message_id]
            if group in first_failure and index > first_failure[group]:
                decisions[candidate.message_id] = Decision(
                    Outcome.FAILED,
                    candidate.record_id,
                    "an earlier message of its FIFO group is retried first",
                )
            else:
                kept.append(candidate)
        return kept

    def _follow(
        self,
        follower: Candidate[M],
        leader: Candidate[M],
        decisions: dict[str, Decision],
        known: dict[str, IdempotencyRecord],
        now: float,
    ) -> Decision:
        """A later message with the same key as an earlier one in this batch."""
        lead = decisions[leader.message_id]
        if lead.outcome.is_item_failure:
            return Decision(
                lead.outcome,
                follower.record_id,
                f"same key as message {leader.message_id}, which is retried",
            )
        existing = known.get(follower.record_id)
        if existing is None:
            return Decision(Outcome.FAILED, follower.record_id, "key state unknown; retry later")
        verdict = classify(existing, follower.payload_hash, now)
        if verdict is Verdict.CLAIMABLE:
            return Decision(Outcome.FAILED, follower.record_id, "key state changed; retry later")
        return Decision(_VERDICT_OUTCOME[verdict], follower.record_id, _explain(verdict, existing))
