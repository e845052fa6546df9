"""Domain values and state enums. Imports nothing of the project."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class State(enum.StrEnum):
    """Delivery states (the one place they are defined).

    draft -> pending_approval -> scheduled -> queued -> publishing -> published
    publishing -> retry_wait -> (scheduler) -> queued           nothing was sent (429, connect error)
    publishing -> unknown -> reconciling -> published | queued  outcome unclear: reconcile, never blind retry
    publishing -> failed                                         permanent (4xx, policy)
    queued -> held                                               auth expired / tone block: visible, waits for a human
    scheduled | queued | retry_wait | held -> cancelled | expired
    """

    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    RETRY_WAIT = "retry_wait"
    UNKNOWN = "unknown"
    RECONCILING = "reconciling"
    HELD = "held"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    def __str__(self) -> str:
        return self.value


#: states a delivery never leaves on its own
TERMINAL = frozenset({State.PUBLISHED, State.FAILED, State.CANCELLED, State.EXPIRED})
#: states that may still be cancelled by a user: also ``failed`` (give up on it, so its thread successors go on) and
#: ``unknown`` (a human checked the platform and does not want it sent again)
CANCELLABLE = frozenset({State.DRAFT, State.PENDING_APPROVAL, State.SCHEDULED, State.QUEUED, State.RETRY_WAIT, State.HELD,
                         State.FAILED, State.UNKNOWN})
#: predecessor states a thread successor may skip over (it then replies to the nearest published ancestor)
SKIPPABLE = frozenset({State.CANCELLED, State.EXPIRED})


class PostKind(enum.StrEnum):
    TICKET = "ticket"
    BLOG = "blog"
    VACANCY = "vacancy"
    CAMPAIGN = "campaign"
    NOTE = "note"

    def __str__(self) -> str:
        return self.value


class AccountKind(enum.StrEnum):
    PERSONAL = "personal"
    ORGANISATION = "organisation"

    def __str__(self) -> str:
        return self.value


CHANNELS = ("x", "facebook", "linkedin", "mastodon", "bluesky", "dryrun")


@dataclass(frozen=True)
class Content:
    """What a post says, before rendering for one channel."""

    text: str
    kind: PostKind = PostKind.NOTE
    link: str | None = None
    language: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Payload:
    """Exactly what one delivery sends: the text as the platform will count it, plus channel fields."""

    text: str
    link: str | None = None
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.link:
            data["link"] = self.link
        if self.language:
            data["language"] = self.language
        if self.extra:
            data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Payload:
        return cls(
            text=data["text"], link=data.get("link"), language=data.get("language"), extra=dict(data.get("extra") or {})
        )


@dataclass(frozen=True)
class Receipt:
    """What a platform gave back for one published delivery.

    ``remote_id`` is the platform's id (tweet id, Graph post id, LinkedIn URN, Mastodon status id, Bluesky at:// uri).
    ``data`` holds what a thread reply needs besides the id (Bluesky cid and root strong ref, Facebook root post id).
    """

    remote_id: str
    url: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"remote_id": self.remote_id, "url": self.url, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Receipt:
        return cls(remote_id=str(data["remote_id"]), url=data.get("url"), data=dict(data.get("data") or {}))


@dataclass(frozen=True)
class DeliveryRef:
    """The view of a delivery an adapter gets: enough to render, publish and reconcile; no store access.

    Built in one place only (``publisher.publishing.delivery_ref``), which fills every field from the stored rows.
    """

    id: str
    post_id: str
    account: str
    channel: str
    payload: Payload
    attempt: int = 1
    #: when the post was accepted (never moves)
    created_at: datetime | None = None
    #: position in the thread (1 = the first post of its thread; a split post's later parts and every ticket update
    #: after the first are > 1)
    thread_seq: int = 1
    #: when the first platform call for this delivery was claimed (stored): every reconcile window starts here
    first_attempt_at: datetime | None = None
    #: when the latest attempt was claimed (stored): e.g. whether Mastodon still honours the idempotency key
    attempt_at: datetime | None = None
    #: the receipt of the post this delivery replies to (None: a top-level post). Publish receives it as ``parent``
    #: too; reconcile needs it to search the parent's replies (Facebook and LinkedIn comments)
    parent: Receipt | None = None

    @property
    def idempotency_key(self) -> str:
        """Stable across retries of this delivery, different for every delivery (Mastodon Idempotency-Key)."""
        return f"publisher-{self.id}"

    @property
    def window_start(self) -> datetime | None:
        """The earliest moment this delivery can have been published: its first attempt (else its acceptance)."""
        return self.first_attempt_at or self.created_at


@dataclass(frozen=True)
class Finding:
    """One tone/policy finding. Offsets are Python string indices into the checked text."""

    rule: str
    severity: str  # "block" | "warn" | "info"
    message: str
    start: int = 0
    end: int = 0
    suggestion: str = ""
    channel: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "start": self.start,
            "end": self.end,
            "suggestion": self.suggestion,
            "channel": self.channel,
        }
