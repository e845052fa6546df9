"""The store: SQLite by default, PostgreSQL by URL. The source of truth for state and time.

Every state change is a conditional UPDATE (``WHERE state IN (...)``) plus its audit event in one transaction, so
two workers, two schedulers or a duplicate message can never both win. Write transactions are serialised where the
audit chain needs it: SQLite ``BEGIN IMMEDIATE``; PostgreSQL a transaction-scoped advisory lock taken first.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, create_engine, event, func, or_, select, text, update
from sqlalchemy.exc import OperationalError, ProgrammingError

from publisher import audit
from publisher.errors import ConfigError
from publisher.models import State
from publisher.schema import deliveries, posts

SCHEMA_HEAD = "0001"
_AUDIT_LOCK_KEY = 0x70756231  # "pub1"


def new_id(prefix: str) -> str:
    """Short, random, URL-safe ids (``p-1a2b3c4d5e``); random so a Mastodon Idempotency-Key never repeats."""
    return f"{prefix}-{secrets.token_hex(5)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Store:
    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine = self._engine()
        # SQLite allows one writer; threads of one process queue on this lock instead of SQLite's busy handler,
        # whose sleep-and-retry backoff (up to 100 ms a step) would dominate publish latency.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        if migrate:
            self.migrate()

    def _engine(self) -> Engine:
        if not self.is_sqlite:
            try:
                return create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            except Exception as e:  # noqa: BLE001 - driver import or URL errors
                raise ConfigError(f"cannot use database URL: {type(e).__name__}",
                                  hint="PUBLISHER_DATABASE_URL must look like postgresql://host:5432/db") from None
        path = self.url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self.url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            readonly = conn.get_execution_options().get("publisher_readonly", False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine

    # -- schema --

    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError):
            return None

    def migrate(self) -> None:
        """Bring the schema to head with Alembic; a no-op costing one query when already there."""
        if self.current_revision() == SCHEMA_HEAD:
            return
        from publisher.migrations import upgrade

        upgrade(self.engine)

    # -- transactions --

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """A write transaction. Holds the audit-chain lock for its whole life."""
        if self._write_lock is not None:
            with self._write_lock, self.engine.begin() as conn:
                yield conn
            return
        with self.engine.begin() as conn:
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY})
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(publisher_readonly=True) as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


# -- queries and conditional transitions (each takes the caller's connection) --


def get_delivery(conn: Connection, delivery_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).mappings().first()
    return dict(row) if row else None


def get_post(conn: Connection, post_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(posts).where(posts.c.id == post_id)).mappings().first()
    return dict(row) if row else None


def deliveries_of(conn: Connection, post_id: str) -> list[dict[str, Any]]:
    q = select(deliveries).where(deliveries.c.post_id == post_id).order_by(deliveries.c.account, deliveries.c.part)
    return [dict(r) for r in conn.execute(q).mappings()]


def transition(
    conn: Connection,
    actor: str,
    delivery: dict[str, Any],
    from_states: Sequence[State],
    to_state: State,
    action: str,
    values: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    extra_where: Any = None,
) -> bool:
    """Move ``delivery`` to ``to_state`` if it is still in one of ``from_states``; audit it. True if it moved."""
    now = utcnow()
    cond = and_(deliveries.c.id == delivery["id"], deliveries.c.state.in_([s.value for s in from_states]))
    if extra_where is not None:
        cond = and_(cond, extra_where)
    res = conn.execute(update(deliveries).where(cond).values(state=to_state.value, updated_at=now, **(values or {})))
    if res.rowcount != 1:
        return False
    audit.record(conn, actor, action, post_id=delivery["post_id"], delivery_id=delivery["id"],
                 account=delivery["account"], details={"from": delivery["state"], "to": to_state.value, **(details or {})})
    return True


def claim_due(conn: Connection, actor: str, now: datetime, horizon: timedelta, batch: int) -> list[dict[str, Any]]:
    """Claim deliveries due within ``horizon`` whose thread predecessor is done: scheduled|retry_wait -> queued."""
    prev = deliveries.alias("prev")
    due = (
        select(deliveries.c.id)
        .select_from(deliveries.outerjoin(prev, prev.c.id == deliveries.c.prev_id))
        .where(
            deliveries.c.state.in_([State.SCHEDULED.value, State.RETRY_WAIT.value]),
            deliveries.c.due_at <= now + horizon,
            or_(deliveries.c.prev_id.is_(None),
                prev.c.state.in_([State.PUBLISHED.value, State.CANCELLED.value, State.EXPIRED.value])),
        )
        .order_by(deliveries.c.due_at)
        .limit(batch)
    )
    ids = [r[0] for r in conn.execute(due)]
    if not ids:
        return []
    res = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(ids), deliveries.c.state.in_([State.SCHEDULED.value, State.RETRY_WAIT.value]))
        .values(state=State.QUEUED.value, enqueued_at=now, updated_at=now)
        .returning(deliveries.c.id, deliveries.c.post_id, deliveries.c.account, deliveries.c.channel, deliveries.c.due_at)
    )
    claimed = [dict(r) for r in res.mappings()]
    audit.append(conn, actor, [audit.Event("queued", post_id=c["post_id"], delivery_id=c["id"], account=c["account"],
                                           details={"to": "queued", "due_at": c["due_at"].isoformat()}) for c in claimed], at=now)
    return claimed


def set_message_ids(conn: Connection, ids: dict[str, str]) -> None:
    for delivery_id, message_id in ids.items():
        conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(message_id=message_id))


def stale_queued(conn: Connection, now: datetime, lost_after: timedelta, limit: int = 1000) -> list[dict[str, Any]]:
    q = (
        select(deliveries.c.id, deliveries.c.channel, deliveries.c.message_id, deliveries.c.due_at)
        .where(deliveries.c.state == State.QUEUED.value, deliveries.c.due_at <= now - lost_after,
               deliveries.c.enqueued_at <= now - lost_after)
        .order_by(deliveries.c.due_at).limit(limit)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def touch_enqueued(conn: Connection, delivery_id: str, now: datetime, message_id: str | None) -> bool:
    res = conn.execute(update(deliveries).where(deliveries.c.id == delivery_id,
                                                deliveries.c.state == State.QUEUED.value)
                       .values(enqueued_at=now, message_id=message_id))
    return res.rowcount == 1


def expired_leases(conn: Connection, now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    q = select(deliveries).where(deliveries.c.state.in_([State.PUBLISHING.value, State.RECONCILING.value]),
                                 deliveries.c.lease_until < now).limit(limit)
    return [dict(r) for r in conn.execute(q).mappings()]


def due_unknown(conn: Connection, now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    q = select(deliveries).where(deliveries.c.state == State.UNKNOWN.value, deliveries.c.due_at <= now).limit(limit)
    return [dict(r) for r in conn.execute(q).mappings()]


def counts_by_state(conn: Connection) -> dict[str, int]:
    q = select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
    return {r[0]: r[1] for r in conn.execute(q)}
