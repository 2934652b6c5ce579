"""The one outcome each message reaches, and what the batch response says for it."""

from __future__ import annotations

import enum


class Outcome(enum.Enum):
    """Per message, exactly one of these (docs/protocol.md, "Outcomes")."""

    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IN_PROGRESS = "in_progress"
    CONFLICT = "conflict"
    INVALID = "invalid"
    REFUSED = "refused"
    FAILED = "failed"

    @property
    def is_item_failure(self) -> bool:
        """Reported in ``batchItemFailures``: SQS delivers it again after the visibility timeout."""
        return self in (Outcome.IN_PROGRESS, Outcome.FAILED)

    @property
    def goes_to_dead_letter(self) -> bool:
        """Sent to the DLQ by the consumer itself, then reported as a success."""
        return self in (Outcome.CONFLICT, Outcome.INVALID, Outcome.REFUSED)
