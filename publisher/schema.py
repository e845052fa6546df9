"""Tables (SQLAlchemy Core). Migrations in publisher/migrations mirror this file; a test keeps them in step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC. Rejects naive input so a local time can never slip in."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


metadata = MetaData()

posts = Table(
    "posts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("link", Text),
    Column("language", String(16)),
    Column("variables", JSON, nullable=False, default=dict),
    Column("scheduled_at", UTCDateTime, nullable=False),
    Column("not_after", UTCDateTime),
    Column("thread_key", String(200)),
    Column("thread_seq", Integer),
    Column("idem_scope", String(500)),
    Column("idem_key", String(500)),
    Column("overrides", JSON, nullable=False, default=list),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # seq of the newest audit event about this post: a row pointing past the chain's end shows a cut tail
    Column("audit_seq", Integer),
    UniqueConstraint("thread_key", "thread_seq", name="uq_posts_thread_seq"),
    UniqueConstraint("idem_scope", "idem_key", name="uq_posts_idempotency"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("post_id", String(32), ForeignKey("posts.id"), nullable=False),
    Column("account", String(100), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("part", Integer, nullable=False, default=1),
    Column("payload", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("due_at", UTCDateTime, nullable=False),
    Column("not_after", UTCDateTime),
    Column("prev_id", String(32)),
    Column("thread_key", String(200)),
    Column("lease_until", UTCDateTime),
    Column("attempt_id", String(32)),
    Column("message_id", String(64)),
    Column("enqueued_at", UTCDateTime),
    Column("remote_id", String(300)),
    Column("remote_url", Text),
    Column("receipt", JSON),
    Column("last_error", Text),
    Column("published_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    # digest of every input of the tone check that this payload passed at enqueue (publisher.tone.tone_key)
    Column("tone_key", String(64)),
    # when the first / the latest platform call was claimed: reconcile windows are anchored here, never at updated_at
    Column("first_attempt_at", UTCDateTime),
    Column("attempt_at", UTCDateTime),
    # seq of the newest audit event about this delivery (see posts.audit_seq)
    Column("audit_seq", Integer),
    # the scheduler's "due" query: state + time, so 1M future rows cost an index range scan, not a table scan
    Index("ix_deliveries_state_due", "state", "due_at"),
    Index("ix_deliveries_prev", "prev_id"),
    Index("ix_deliveries_post", "post_id"),
    # an account's deliveries in a state, and (calendar) how many of them fall on a day: one range seek, no row read
    Index("ix_deliveries_account_state_due", "account", "state", "due_at"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(64), nullable=False),
    Column("post_id", String(32)),
    Column("delivery_id", String(32)),
    Column("account", String(100)),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # which hash chain (stream) the event is in, and its place in that chain: 1, 2, 3... without gaps (docs/audit.md)
    Column("stream", Integer, nullable=False, server_default="0"),
    Column("stream_seq", Integer, nullable=False),
    Index("ix_audit_post", "post_id"),
    Index("ix_audit_delivery", "delivery_id"),
    UniqueConstraint("stream", "stream_seq", name="uq_audit_stream_seq"),
)

# -- the audit log's streams and seals (migration 0008) --

#: one row per stream: its newest event. A writer locks one row (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL)
#: from its audit flush to COMMIT, so writers on different streams never wait for each other.
audit_heads = Table(
    "audit_heads",
    metadata,
    Column("stream", Integer, primary_key=True, autoincrement=False),
    Column("stream_seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("seq", Integer, nullable=False),  # the newest event's global seq, to name it when it goes missing
)

#: the global chain: each seal commits every stream's head (a Merkle root over them) and chains from the seal before
audit_seals = Table(
    "audit_seals",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("heads", Text, nullable=False),  # canonical JSON: [[stream, stream_seq, hash], ...] by stream
    Column("root", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("mac", String(64)),  # HMAC-SHA256(key, hash) in keyed mode
)

# images, content-addressed (publisher.channels.media): a post's payloads refer to them by sha256, so any worker on
# any machine reads the exact bytes it publishes from the store
media = Table(
    "media",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("mime", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# -- feeds (publisher.workflows.feeds): blogs whose new entries are announced once each --

feeds = Table(
    "feeds",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("url", Text, nullable=False),
    Column("accounts", JSON, nullable=False),
    Column("template", Text, nullable=False),
    Column("templates", JSON, nullable=False, default=dict),  # channel or account -> its own template
    Column("interval_seconds", Integer, nullable=False),
    Column("max_per_poll", Integer, nullable=False),
    Column("spacing_seconds", Integer, nullable=False),
    Column("source", String(16), nullable=False),  # "cli" | "config" (synced from config.yaml `feeds:`)
    Column("state", String(16), nullable=False),  # active | paused | disabled
    Column("disabled_reason", Text),
    # the first poll: announce the newest N entries (0 = only mark every present entry seen); NULL once done
    Column("backfill", Integer),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_success", UTCDateTime),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Column("next_poll", UTCDateTime, nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    # one scheduler polls a feed at a time: a conditional update takes the lease, it expires if that scheduler dies
    Column("lease_until", UTCDateTime),
    Column("lease_owner", String(100)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_feeds_state_next", "state", "next_poll"),
)

feed_entries = Table(
    "feed_entries",
    metadata,
    Column("feed", String(100), primary_key=True),
    Column("entry_key", String(64), primary_key=True),  # sha256 of the entry's identity (guid/id, link, title+link)
    Column("identity", Text, nullable=False),
    Column("title", Text),
    Column("link", Text),
    Column("published", UTCDateTime),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),  # seeded | announced
    Column("post_id", String(32)),
    Index("ix_feed_entries_post", "post_id"),
)

# One row per decision on a (post, account) that needs approval (accounts with `approvers:`): a post to several
# accounts is released only once every such account has an "approved" row (publisher.workflows.approvals).
approvals = Table(
    "approvals",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("post_id", String(32), ForeignKey("posts.id"), nullable=False),
    Column("account", String(100), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("decision", String(16), nullable=False),  # approved | rejected
    Column("reason", Text),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("post_id", "account", name="uq_approvals_post_account"),
)

#: a campaign imported from a file (publisher/workflows/campaigns.py); its posts are those with
#: ``idem_scope = 'campaign:' || name`` and the row key as ``idem_key``
campaigns = Table(
    "campaigns",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("source_sha256", String(64), nullable=False),
    Column("header", JSON, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
