"""Atomic mode: each message's effect and its COMPLETED record in one transaction.

Why not Powertools' idempotency utility: it writes its record apart from the effect, so a
crash between the two re-applies the effect once the record's lease runs out. Here there
is no such window. And why not one message per transaction: a batch of ten new messages
costs one ``TransactWriteItems`` (an all-duplicate batch too, answered by the cancellation
reasons with the existing records), where the per-message recipe costs about three
requests per message.

When DynamoDB cancels a batch's transaction, the cancellation reasons say which items
failed; ``writes.plan`` says which messages each item carries. A message whose own record
exists is a duplicate (or conflict); a message whose own effect write failed its condition
or was refused as invalid is refused and dead-lettered; the rest commit in the next
transaction. Where a failed item carries several messages (merged writes), or DynamoDB
gives no usable reason, the chunk is split in two, in order, until the message at fault
stands alone: one bad message never takes another with it.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from .clock import Clock
from .config import ExactlyOnceConfig
from .downstream import Downstream, attach_downstream, prepare_downstream
from .errors import Refused
from .messages import Candidate, Decision, admit, group_id_of, is_fifo, payload_hook
from .outcomes import Outcome
from .protocol import Verdict, classify, expiration_for, now_millis
from .records import IdempotencyRecord, RecordStatus
from .store import IdempotencyStore
from .writes import PlannedItem, Write, plan

M = TypeVar("M")

MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
# Below this much invocation time left, no new transaction is started: the rest is retried.
MIN_MILLIS_FOR_A_TRANSACTION = 500
# Before retrying a transaction cancelled by contention: a random wait up to this much,
# doubled each time ("full jitter"), so that rivals on a hot item do not collide again.
BACKOFF_BASE_SECONDS = 0.025
# Cancellation reasons that say "try the same thing again".
_TRANSIENT = frozenset(
    {
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    }
)
_VERDICT_OUTCOME = {
    Verdict.DUPLICATE: Outcome.DUPLICATE,
    Verdict.CONFLICT: Outcome.CONFLICT,
    Verdict.IN_PROGRESS: Outcome.IN_PROGRESS,
}


class AtomicEffect(Protocol[M]):
    """A consumer's business logic, for effects that live in DynamoDB.

    Optionally also ``payload(message) -> object``: what the payload hash covers (default:
    the decoded body), so that bodies that mean the same are one payload.
    """

    def parse(self, document: dict[str, Any]) -> M:
        """The message in a decoded body, or InvalidMessage naming the field at fault."""
        ...

    def writes(self, message: M) -> Iterable[Write]:
        """What this one message does (``Add``, ``Take``, ``PutIfAbsent``, ``TransactItem``),
        or ``Refused`` when the message alone shows it cannot be applied."""
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


class _Chunk(Generic[M]):
    """Messages to commit in one transaction, and how often it was cancelled for nothing
    they did (conflicts, throttling)."""

    def __init__(self, candidates: list[Candidate[M]], transient_cancellations: int = 0) -> None:
        self.candidates = candidates
        self.transient_cancellations = transient_cancellations


class _Batch(Generic[M]):
    """The decisions of one batch, built up over its transactions."""

    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.fifo = is_fifo(records)
        self.order = {r["messageId"]: (i, group_id_of(r)) for i, r in enumerate(records)}
        self.decisions: dict[str, Decision] = {}
        self.known: dict[str, IdempotencyRecord] = {}  # what each key holds, as learned
        self.writes: dict[str, list[Write]] = {}  # per message id
        self.downstream: dict[str, tuple[Downstream, ...]] = {}  # per message id

    def decide(self, candidate: Candidate[M], outcome: Outcome, reason: str = "") -> None:
        self.decisions[candidate.message_id] = Decision(outcome, candidate.record_id, reason)

    def fail(self, chunk: Iterable[Candidate[M]], why: str) -> None:
        for candidate in chunk:
            self.decide(candidate, Outcome.FAILED, why)

    def held_back(self, candidates: list[Candidate[M]]) -> list[Candidate[M]]:
        """FIFO: after a failure in a message group, nothing later in that group is applied."""
        if not self.fifo:
            return candidates
        first_failure: dict[str, int] = {}
        for message_id, decision in self.decisions.items():
            index, group = self.order[message_id]
            if decision.outcome.is_item_failure and group is not None:
                first_failure[group] = min(first_failure.get(group, index), index)
        kept: list[Candidate[M]] = []
        for candidate in candidates:
            index, group = self.order[candidate.message_id]
            if group in first_failure and index > first_failure[group]:
                why = "an earlier message of its FIFO group is retried first"
                self.decide(candidate, Outcome.FAILED, why)
            else:
                kept.append(candidate)
        return kept


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
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._sleep = sleep
        self._jitter = jitter
        self._config = config
        self._client = client
        self._store = IdempotencyStore(client, config.table_name)
        self._effect = effect
        self._payload = payload_hook(effect)
        self._clock = clock
        self._max_rounds = max_rounds
        self._per_transaction = messages_per_transaction

    def decide(
        self,
        records: Sequence[Mapping[str, Any]],
        remaining_millis: Callable[[], int | None] = lambda: None,
    ) -> dict[str, Decision]:
        now = self._clock.now()
        batch: _Batch[M] = _Batch(records)
        leaders: dict[str, Candidate[M]] = {}  # the first message of each key in the batch
        followers: list[Candidate[M]] = []  # later messages with a key already in the batch
        for record in records:
            admitted = admit(record, self._config.key, self._effect.parse, self._payload)
            if isinstance(admitted, Decision):
                batch.decisions[record["messageId"]] = admitted
            elif admitted.record_id not in leaders:
                leaders[admitted.record_id] = admitted
                self._collect_writes(admitted, batch)  # decided at once if it cannot go
            elif batch.fifo and admitted.payload_hash != leaders[admitted.record_id].payload_hash:
                # Decided now, before anything commits, so that held_back keeps the rest of
                # its group behind it: FIFO order holds whatever its leader's outcome.
                why = "same key as an earlier message of this batch with another payload"
                batch.decide(admitted, Outcome.FAILED, why + "; retried after it")
            else:
                followers.append(admitted)

        pending = [c for c in leaders.values() if c.message_id not in batch.decisions]
        # Standard queues: chunks of a fixed size. FIFO: the batch (at most 10 messages) in
        # one transaction, so no later message of a group commits while an earlier one fails.
        size = len(pending) if batch.fifo else self._per_transaction
        work = deque(_Chunk(pending[i : i + size]) for i in range(0, len(pending), max(size, 1)))
        while work:
            chunk = work.popleft()
            chunk.candidates = batch.held_back(chunk.candidates)
            if not chunk.candidates:
                continue
            if chunk.transient_cancellations:
                self._back_off(chunk.transient_cancellations, remaining_millis())
            remaining = remaining_millis()
            if remaining is not None and remaining < MIN_MILLIS_FOR_A_TRANSACTION:
                batch.fail(chunk.candidates, "no time left in the invocation; retry later")
                continue
            # Next: what this transaction leaves undecided, before the chunks after it.
            work.extendleft(reversed(self._commit(chunk, now, batch)))
        for follower in followers:
            batch.decisions[follower.message_id] = self._follow(
                follower, leaders[follower.record_id], batch, now
            )
        # The leaders' sends cover their followers: same key, same payload.
        attach_downstream(batch.downstream, leaders.values(), batch.decisions)
        return batch.decisions

    def _back_off(self, cancellations: int, remaining: int | None) -> None:
        """Wait a random while before a retry, never into the invocation's last moments."""
        delay = self._jitter(0.0, BACKOFF_BASE_SECONDS * 2 ** (cancellations - 1))
        if remaining is not None:
            spare = (remaining - MIN_MILLIS_FOR_A_TRANSACTION) / 1000
            delay = min(delay, max(spare, 0.0))
        if delay > 0:
            self._sleep(delay)

    def _collect_writes(self, candidate: Candidate[M], batch: _Batch[M]) -> None:
        """The message's effect writes, checked alone; or its decision when it cannot go."""
        try:
            writes = list(self._effect.writes(candidate.message))
            plan([writes])  # a write built wrongly fails its own message, not the batch
            # Checked before the commit: a broken hook fails the message before its effect.
            downstream = prepare_downstream(self._effect, candidate.message)
        except Refused as exc:
            batch.decide(candidate, Outcome.REFUSED, exc.reason)
            return
        except Exception as exc:  # noqa: BLE001 - one message's effect bug fails that message
            batch.decide(candidate, Outcome.FAILED, f"effect raised {exc!r}")
            return
        batch.writes[candidate.message_id] = writes
        batch.downstream[candidate.message_id] = downstream

    def _record(self, candidate: Candidate[M], now: float) -> IdempotencyRecord:
        return IdempotencyRecord(
            id=candidate.record_id,
            status=RecordStatus.COMPLETED,
            payload_hash=candidate.payload_hash,
            expiration=expiration_for(now, self._config.retention_seconds),
            updated_at_ms=now_millis(now),
            message_id=candidate.message_id,
        )

    def _commit(self, chunk: _Chunk[M], now: float, batch: _Batch[M]) -> list[_Chunk[M]]:
        """One transaction for ``chunk``; returns what is left to try, in order."""
        candidates = chunk.candidates
        records = [self._record(candidate, now) for candidate in candidates]
        try:
            effect_items = plan([batch.writes[c.message_id] for c in candidates])
        except Exception as exc:  # noqa: BLE001 - e.g. merged sums past DynamoDB's precision
            if len(candidates) > 1:
                return _halves(candidates)
            batch.fail(candidates, f"effect writes unusable: {exc!r}")
            return []
        items = [self._store.completed_put(record, now) for record in records]
        items += [planned.item for planned in effect_items]
        if len(items) > MAX_TRANSACTION_ITEMS and len(candidates) > 1:
            return _halves(candidates)
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code")
            if code == "TransactionCanceledException":
                return self._sort_cancellation(chunk, effect_items, exc.response, now, batch)
            if code == "ValidationException" and not _about_configuration(error):
                # The request as a whole (e.g. two writes to one item): narrow it down.
                if len(candidates) > 1:
                    return _halves(candidates)
                why = f"DynamoDB refused the effect's writes ({code}): {error.get('Message')}"
                batch.decide(candidates[0], Outcome.REFUSED, why)
                return []
            batch.fail(candidates, f"{code}: {error.get('Message')}")
            return []
        except ParamValidationError as exc:  # refused before it left: a malformed write
            if len(candidates) > 1:
                return _halves(candidates)
            batch.decide(candidates[0], Outcome.REFUSED, f"the effect's write is malformed: {exc}")
            return []
        except BotoCoreError as exc:
            batch.fail(candidates, f"DynamoDB unreachable: {exc}")
            return []
        for candidate, record in zip(candidates, records, strict=True):
            batch.decide(candidate, Outcome.PROCESSED)
            batch.known[candidate.record_id] = record
        return []

    def _sort_cancellation(
        self,
        chunk: _Chunk[M],
        effect_items: list[PlannedItem],
        response: Mapping[str, Any],
        now: float,
        batch: _Batch[M],
    ) -> list[_Chunk[M]]:
        """Decide the messages the reasons blame; return the rest to try again."""
        candidates = chunk.candidates
        reasons = list(response.get("CancellationReasons") or [])
        if len(reasons) != len(candidates) + len(effect_items):
            reasons = [{}] * (len(candidates) + len(effect_items))  # unusable: none to trust
        record_reasons, item_reasons = reasons[: len(candidates)], reasons[len(candidates) :]
        decided: set[int] = set()
        changed: set[int] = set()  # their record changed under them: not to be blamed now
        ambiguous = False
        transient = False
        for index, (candidate, reason) in enumerate(zip(candidates, record_reasons, strict=True)):
            code = reason.get("Code")
            if code == "ConditionalCheckFailed":
                if self._sort_record(candidate, reason, now, batch):
                    decided.add(index)
                else:
                    transient = True  # the record changed since the condition was checked
                    changed.add(index)
            elif code == "ValidationError":
                why = f"DynamoDB refused the record as invalid: {reason.get('Message')}"
                batch.decide(candidate, Outcome.REFUSED, why)
                decided.add(index)
            transient |= code in _TRANSIENT
        for planned, reason in zip(effect_items, item_reasons, strict=True):
            code = reason.get("Code")
            transient |= code in _TRANSIENT
            if code in (None, "None") or code in _TRANSIENT:
                continue  # not this item's fault
            if len(planned.sources) > 1:
                # Merged writes of several messages: the failed condition summed them all,
                # so no one of them is at fault yet. Without those decided above it may pass.
                ambiguous = True
                continue
            [source] = planned.sources
            if source in decided or source in changed:
                continue
            if code == "ConditionalCheckFailed":
                why = planned.refusals.get(source) or f"a condition on {planned.table} failed"
            else:  # ValidationError, ItemCollectionSizeLimitExceeded: the write itself is bad
                message = reason.get("Message")
                why = f"DynamoDB refused the write to {planned.table} ({code}): {message}"
            batch.decide(candidates[source], Outcome.REFUSED, why)
            decided.add(source)
        rest = [c for index, c in enumerate(candidates) if index not in decided]
        if not rest:
            return []
        if decided:
            return [_Chunk(rest)]  # progress: the rest goes again at once, planned anew
        if (ambiguous or not transient) and len(rest) > 1:
            # Several messages share the failed item, or no reason says who is at fault:
            # narrow it down rather than fail the innocent.
            return _halves(rest)
        chunk.transient_cancellations += 1
        if chunk.transient_cancellations >= self._max_rounds:
            codes = sorted({str(r["Code"]) for r in reasons if r.get("Code") not in (None, "None")})
            why = f"transaction kept being cancelled ({', '.join(codes) or 'no reason given'})"
            batch.fail(rest, why + "; retry later")
            return []
        return [_Chunk(rest, chunk.transient_cancellations)]

    def _sort_record(
        self, candidate: Candidate[M], reason: Mapping[str, Any], now: float, batch: _Batch[M]
    ) -> bool:
        """Decide a message whose record condition failed; False if it must go again."""
        try:
            item = reason.get("Item")
            existing = (
                IdempotencyRecord.from_item(item) if item else self._store.get(candidate.record_id)
            )
        except (ClientError, BotoCoreError, KeyError, ValueError) as exc:
            batch.decide(
                candidate, Outcome.FAILED, f"existing record unreadable: {type(exc).__name__}"
            )
            return True
        verdict = classify(existing, candidate.payload_hash, now)
        if existing is None or verdict is Verdict.CLAIMABLE:
            return False  # the record changed since the condition was checked
        batch.known[candidate.record_id] = existing
        batch.decide(candidate, _VERDICT_OUTCOME[verdict], _explain(verdict, existing))
        return True

    def _follow(
        self, follower: Candidate[M], leader: Candidate[M], batch: _Batch[M], now: float
    ) -> Decision:
        """A later message with the same key as an earlier one in this batch."""
        lead = batch.decisions[leader.message_id]
        if lead.outcome.is_item_failure:
            return Decision(
                lead.outcome,
                follower.record_id,
                f"same key as message {leader.message_id}, which is retried",
            )
        if lead.outcome is Outcome.REFUSED:
            if follower.payload_hash == leader.payload_hash:
                why = f"same message as {leader.message_id}, refused and dead-lettered"
                return Decision(Outcome.DUPLICATE, follower.record_id, why)
            why = f"same key as refused message {leader.message_id}; evaluated on its retry"
            return Decision(Outcome.FAILED, follower.record_id, why)
        existing = batch.known.get(follower.record_id)
        if existing is None:
            return Decision(Outcome.FAILED, follower.record_id, "key state unknown; retry later")
        verdict = classify(existing, follower.payload_hash, now)
        if verdict is Verdict.CLAIMABLE:
            return Decision(Outcome.FAILED, follower.record_id, "key state changed; retry later")
        return Decision(_VERDICT_OUTCOME[verdict], follower.record_id, _explain(verdict, existing))


# ValidationException messages that say the deployment is wrong, not one message: retried
# (and alarmed on) rather than dead-lettering every message as refused.
_CONFIGURATION_ERRORS = ("does not match the schema", "Requested resource not found")


def _about_configuration(error: Mapping[str, Any]) -> bool:
    message = str(error.get("Message", ""))
    return any(marker in message for marker in _CONFIGURATION_ERRORS)


def _halves(candidates: list[Candidate[M]]) -> list[_Chunk[M]]:
    half = len(candidates) // 2
    return [_Chunk(candidates[:half]), _Chunk(candidates[half:])]
