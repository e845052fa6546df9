"""Append-only, hash-chained audit log, written in the same transaction as the change it records.

``hash_n = sha256(hash_{n-1} + canonical_json(event_n))``; the first event chains from 64 zeros. ``verify`` recomputes
the chain and reports the first broken link: an edited row (its hash no longer matches), a deleted row (a gap in
``seq``) or a reordered row (``prev_hash`` no longer the hash before it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from publisher import rawsql
from publisher.credentials import redact
from publisher.schema import audit_events

GENESIS = "0" * 64


_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode
_STRING: Any = json.encoder.encode_basestring  # type: ignore[attr-defined]  # what _ENCODE does to a str


def _canonical(event: dict[str, Any]) -> str:
    return _ENCODE(event)


def _digest(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + _canonical(event)).encode("utf-8")).hexdigest()


def _at_text(at: datetime) -> str:
    """The event time as the chain hashes it: naive UTC, microseconds."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _event_fields(seq: int, at: datetime, actor: str, action: str, post_id: str | None, delivery_id: str | None,
                  account: str | None, details: str) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": _at_text(at),
        "actor": actor,
        "action": action,
        "post_id": post_id,
        "delivery_id": delivery_id,
        "account": account,
        "details": details,
    }


@dataclass
class Event:
    action: str
    post_id: str | None = None
    delivery_id: str | None = None
    account: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    """An event rendered ahead of its transaction, outside the write lock: its canonical text around the two
    fields only the transaction knows (``at`` and ``seq``; "seq" sorts last, "at" between "actor" and
    "delivery_id"), and its row. Appended by ``append_pending``, it chains exactly as ``append`` would chain it."""

    head: str
    tail: str
    row: tuple[str, str, str | None, str | None, str | None, str]  # actor, action, post_id, delivery_id, account, details


def pending(actor: str, ev: Event) -> Pending:
    details = redact(_canonical(ev.details or {}))

    def s(v: str | None) -> str:
        return "null" if v is None else str(_STRING(v))

    head = f'{{"account":{s(ev.account)},"action":{s(ev.action)},"actor":{s(actor)},"at":'
    tail = f',"delivery_id":{s(ev.delivery_id)},"details":{s(details)},"post_id":{s(ev.post_id)},"seq":'
    return Pending(head, tail, (actor, ev.action, ev.post_id, ev.delivery_id, ev.account, details))


HEAD_KEY = "publisher_audit_head"
_HEAD_SQL = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
_COLUMNS = ("seq", "at", "actor", "action", "post_id", "delivery_id", "account", "details", "prev_hash", "hash")


def _head(conn: Connection) -> tuple[int, str]:
    row = rawsql.fetch_one(conn, _HEAD_SQL)
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def append(conn: Connection, actor: str, events: list[Event], at: datetime | None = None) -> None:
    """Append ``events`` in order. The caller's transaction must hold the store's write lock (``Store.tx``)."""
    append_pending(conn, [pending(actor, ev) for ev in events], at)


#: set by ``queued`` for a transaction's life: its events, written together by ``flush`` just before COMMIT
QUEUE_KEY = "publisher_audit_queue"


@contextmanager
def queued(conn: Connection) -> Iterator[None]:
    """For ``Store.tx``: the transaction's events are queued while it runs and written when its body has
    finished, just before COMMIT; nothing is written if the body raises."""
    conn.info.pop(HEAD_KEY, None)
    conn.info[QUEUE_KEY] = []
    try:
        yield
        flush(conn)
    finally:
        conn.info.pop(QUEUE_KEY, None)


def append_pending(conn: Connection, events: list[Pending], at: datetime | None = None) -> None:
    """Append events rendered beforehand: inside the lock only the chain itself is computed. In a ``Store.tx``
    they are queued and written by ``flush`` at its end: one head read and one INSERT per transaction, however
    many changes it records (a batch of jobs in ``Store.grouped`` records many)."""
    if not events:
        return
    queue = conn.info.get(QUEUE_KEY)
    if queue is not None:
        queue.append((events, at))
    else:
        _write(conn, [(events, at)])


def flush(conn: Connection) -> None:
    """Write the events queued in this transaction, in the order they were appended."""
    queue = conn.info.pop(QUEUE_KEY, None)
    if queue:
        _write(conn, queue)


def _write(conn: Connection, batches: list[tuple[list[Pending], datetime | None]]) -> None:
    d = rawsql.dialect_of(conn)
    to_db = d.binders(audit_events)["at"]
    now = datetime.now(UTC)
    # the head is read once per transaction (``queued`` clears it at BEGIN; Store.tx holds the chain lock until COMMIT)
    seq, prev = conn.info.get(HEAD_KEY) or _head(conn)
    rows = []
    for events, at in batches:
        at_db, at_text = to_db(at or now), _STRING(_at_text(at or now))
        for ev in events:
            seq += 1
            digest = hashlib.sha256(f"{prev}{ev.head}{at_text}{ev.tail}{seq}}}".encode()).hexdigest()
            rows.append((seq, at_db, *ev.row, prev, digest))
            prev = digest
    rawsql.insert_many(conn, "audit_events", _COLUMNS, rows)
    conn.info[HEAD_KEY] = (seq, prev)


def record(conn: Connection, actor: str, action: str, **kw: Any) -> None:
    append(conn, actor, [Event(action=action, **kw)])


def rows(conn: Connection, post_id: str | None = None, delivery_ids: list[str] | None = None,
         batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Events in sequence order, streamed in batches (the log may be large)."""
    last = 0
    while True:
        q = select(audit_events).where(audit_events.c.seq > last).order_by(audit_events.c.seq).limit(batch)
        if post_id is not None:
            cond = audit_events.c.post_id == post_id
            if delivery_ids:
                cond = cond | audit_events.c.delivery_id.in_(delivery_ids)
            q = q.where(cond)
        chunk = conn.execute(q).mappings().all()
        if not chunk:
            return
        for r in chunk:
            yield dict(r)
        last = chunk[-1]["seq"]


@dataclass
class Verification:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""


def verify(conn: Connection) -> Verification:
    prev_hash, expected_seq, n = GENESIS, 1, 0
    for r in rows(conn):
        n += 1
        if r["seq"] != expected_seq:
            return Verification(False, n - 1, expected_seq,
                                f"event {expected_seq} is missing (next present is {r['seq']}): a row was deleted or reordered")
        if r["prev_hash"] != prev_hash:
            return Verification(False, n - 1, r["seq"], f"event {r['seq']} does not chain from event {r['seq'] - 1}: rows were reordered or replaced")
        fields = _event_fields(r["seq"], r["at"], r["actor"], r["action"], r["post_id"], r["delivery_id"],
                               r["account"], r["details"])
        if _digest(prev_hash, fields) != r["hash"]:
            return Verification(False, n - 1, r["seq"], f"event {r['seq']} was edited: its content no longer matches its hash")
        prev_hash = r["hash"]
        expected_seq += 1
    return Verification(True, n)


def export_jsonl(conn: Connection) -> Iterator[str]:
    for r in rows(conn):
        r = dict(r)
        r["at"] = r["at"].isoformat()
        r["details"] = json.loads(r["details"])
        yield json.dumps(r, ensure_ascii=False, sort_keys=True)
