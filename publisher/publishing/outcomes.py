"""The one outcome table: what an adapter's answer means for a delivery, for publishing and reconciling alike.

Adapters raise (``publisher/channels/base.py``); the runner and the reconciler look the exception up here and get the
state, the audit action, the label ``Publisher.handle_many`` reports and when the delivery is looked at again. No
other code maps an adapter outcome to a transition.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from publisher.errors import (
    AuthExpired,
    ConfigError,
    NotFound,
    NotPublished,
    OutcomeUnknown,
    PermanentError,
    PublisherError,
    RateLimited,
    ReconcileUnsupported,
    TransientError,
)
from publisher.models import State


class Label(enum.StrEnum):
    """What happened to one delivery of a broker message (``Publisher.handle_many``'s answer)."""

    PUBLISHED = "published"
    RECONCILED = "reconciled"
    DUPLICATE = "duplicate"  # not in the state this message expected: a repeated or late message, a no-op
    MISSING = "missing"
    EARLY = "early"  # came before its time: sent again for the exact time
    EXPIRED = "expired"
    WAITING = "waiting"  # its thread predecessor is not published yet
    HELD = "held"
    BUDGET = "budget"  # the account's shared rate budget says not yet
    POLICY = "policy"  # the account's cadence says not yet
    LOST_CLAIM = "lost-claim"  # another worker claimed it first
    RELEASED = "released"  # the batch ran past half its lease: back to queued, unsent
    ORPHAN = "orphan"  # published, but its state changed meanwhile (logged)
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"
    FAILED = "failed"
    UNKNOWN = "unknown"  # an unclassified error: maybe sent, reconciled later
    UNKNOWN_RECONCILE = "unknown-reconcile"  # maybe sent: reconciled right away
    NOT_PUBLISHED = "not-published"
    NEEDS_HUMAN = "needs-human"
    DEFERRED = "deferred"

    def __str__(self) -> str:
        return self.value


class Due(enum.Enum):
    """When a delivery that did not publish is looked at again."""

    NOW = "now"
    RETRY_AT = "the platform's reset time"
    BACKOFF = "after an exponential backoff"
    RECONCILE = "after the reconcile interval"
    NEVER = "when a human acts"


@dataclass(frozen=True)
class Outcome:
    label: Label
    state: State
    action: str  # the audit event's action
    due: Due | None  # None: the state does not wait for a time (held, failed)
    sent: str  # what it means on the platform's side (documentation, and the README's table)


#: publishing: exception -> outcome, first match wins (so the order goes from specific to general)
PUBLISH: tuple[tuple[type[BaseException], Outcome], ...] = (
    (RateLimited, Outcome(Label.RATE_LIMITED, State.RETRY_WAIT, "rate_limited", Due.RETRY_AT, "nothing was sent")),
    (TransientError, Outcome(Label.TRANSIENT, State.RETRY_WAIT, "transient_error", Due.BACKOFF, "nothing was sent")),
    (AuthExpired, Outcome(Label.HELD, State.HELD, "auth_expired", None, "nothing was sent")),
    (PermanentError, Outcome(Label.FAILED, State.FAILED, "failed", None, "refused for good")),
    (OutcomeUnknown, Outcome(Label.UNKNOWN_RECONCILE, State.UNKNOWN, "unknown", Due.NOW, "maybe applied")),
    (Exception, Outcome(Label.UNKNOWN, State.UNKNOWN, "unknown", Due.NOW, "maybe applied (unclassified error)")),
)
#: a transient error once too often: nothing was ever sent, and it stops trying
GIVE_UP = Outcome(Label.FAILED, State.FAILED, "failed", None, "nothing was sent, every time")
MAX_TRANSIENT_ATTEMPTS = 8

#: reconciling (from ``reconciling``): exception -> outcome
RECONCILE: tuple[tuple[type[BaseException], Outcome], ...] = (
    (NotPublished, Outcome(Label.NOT_PUBLISHED, State.RETRY_WAIT, "reconciled_not_published", Due.NOW,
                           "definitively not on the platform: sent again")),
    (ReconcileUnsupported, Outcome(Label.NEEDS_HUMAN, State.UNKNOWN, "needs_human", Due.NEVER,
                                   "no lookup can settle it")),
    (ConfigError, Outcome(Label.NEEDS_HUMAN, State.UNKNOWN, "needs_human", Due.NEVER, "the account cannot be used")),
    (NotFound, Outcome(Label.NEEDS_HUMAN, State.UNKNOWN, "needs_human", Due.NEVER, "the account is not configured")),
    (Exception, Outcome(Label.DEFERRED, State.UNKNOWN, "reconcile_deferred", Due.RECONCILE,
                        "the lookup failed for now: looked up again later")),
)


def classify(error: BaseException, table: tuple[tuple[type[BaseException], Outcome], ...]) -> Outcome:
    for kind, outcome in table:
        if isinstance(error, kind):
            return outcome
    raise error  # not an Exception (KeyboardInterrupt, SystemExit): not ours to map


def for_publish(error: BaseException, attempt: int) -> Outcome:
    outcome = classify(error, PUBLISH)
    return GIVE_UP if outcome.due is Due.BACKOFF and attempt >= MAX_TRANSIENT_ATTEMPTS else outcome


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** max(attempts - 1, 0) * 5, 900))


def due_at(outcome: Outcome, error: BaseException, now: datetime, attempt: int, reconcile_every: float) -> datetime | None:
    """When the delivery is looked at again (None: no time; it waits for a human or is done)."""
    if outcome.due is None:
        return None
    if isinstance(error, RateLimited):  # whatever the phase, the platform said when
        return error.retry_at
    return {Due.NOW: now, Due.RETRY_AT: now, Due.BACKOFF: now + backoff(attempt),
            Due.RECONCILE: now + timedelta(seconds=reconcile_every), Due.NEVER: now + timedelta(days=365)}[outcome.due]


def message(error: BaseException) -> str:
    """The error's text as it may be stored (adapters' messages are redacted where they are born)."""
    return error.message if isinstance(error, PublisherError) else f"unclassified error: {type(error).__name__}"
