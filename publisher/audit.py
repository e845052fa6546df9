"""Append-only, hash-chained audit log, written in the same transaction as the change it records.

``hash_n = sha256(hash_{n-1} + canonical_json(event_n))``; the first event chains from 64 zeros. ``verify`` recomputes
the chain and reports the first broken link: an edited row (its hash no longer matches), a deleted row (a gap in
``seq``) or a reordered row (``prev_hash`` no longer the hash before it).

A chain alone cannot see its own tail cut, nor a rewrite that recomputes every later hash (it needs no key), nor
edits to the posts and deliveries it speaks of. So, closed from outside (docs/audit.md has the table):

- rows: each flush sets ``audit_seq`` of the posts/deliveries its events are about to their newest event, and the
  events that create a row carry its content digest; ``verify`` checks both;
- witness: ``head`` gives (seq, hash) to keep outside the store; ``verify(expect=...)`` checks the log still has it;
- key: with ``PUBLISHER_AUDIT_KEY_FILE`` every write transaction ends with an HMAC seal over the chain.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select

from publisher import rawsql
from publisher.credentials import redact
from publisher.schema import audit_events, deliveries, posts

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
    rows: list[tuple[Any, ...]] = []
    key = audit_key()
    if key is not None:  # keyed mode: the transaction's last event seals the chain up to it
        batches = [*batches, ([_SEAL_MARK], None)]
    for events, at in batches:
        at_db, at_text = to_db(at or now), _STRING(_at_text(at or now))
        for ev in events:
            seq += 1
            if ev is _SEAL_MARK:
                ev = pending(rows[-1][2], Event(SEAL, details={"mac": _mac(key or b"", prev)}))
            digest = hashlib.sha256(f"{prev}{ev.head}{at_text}{ev.tail}{seq}}}".encode()).hexdigest()
            rows.append((seq, at_db, *ev.row, prev, digest))
            prev = digest
    rawsql.insert_many(conn, "audit_events", _COLUMNS, rows)
    _anchor(conn, d, rows)
    conn.info[HEAD_KEY] = (seq, prev)


# -- keyed mode: a seal no one without the key can forge --

#: a file holding the audit key, readable by the service user only. When set, every write transaction ends with
#: an ``audit.seal`` event: HMAC(key, hash of the event before it). Rewriting the chain without the key then
#: breaks a seal, and events appended without it are unsealed.
KEY_FILE_ENV = "PUBLISHER_AUDIT_KEY_FILE"
SEAL = "audit.seal"
_SEAL_MARK = Pending("", "", ("", "", None, None, None, ""))  # where ``_write`` puts the seal


def audit_key() -> bytes | None:
    path = os.environ.get(KEY_FILE_ENV)
    return _read_key(path) if path else None


@functools.cache
def _read_key(path: str) -> bytes:
    from publisher.errors import ConfigError

    p = Path(path).expanduser()
    hint = f"create it readable by the service user only: `head -c 32 /dev/urandom | base64 > {p}; chmod 600 {p}`"
    try:
        st = p.stat()
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{KEY_FILE_ENV}: {p} is readable by others (mode {stat.S_IMODE(st.st_mode):o})",
                              hint=f"run `chmod 600 {p}`")
        key = p.read_bytes().strip()
    except OSError as e:
        raise ConfigError(f"{KEY_FILE_ENV}: cannot read {p} ({e.strerror})", hint=hint) from None
    if len(key) < 16:
        raise ConfigError(f"{KEY_FILE_ENV}: {p} holds fewer than 16 bytes", hint=hint)
    return key


def _mac(key: bytes, prev_hash: str) -> str:
    """The seal over the chain up to the event before it: that event's hash covers its seq and all before it."""
    return hmac.new(key, prev_hash.encode(), hashlib.sha256).hexdigest()


def _anchor(conn: Connection, d: rawsql.Dialect, rows: list[tuple[Any, ...]]) -> None:
    """Set ``audit_seq`` of the rows these events are about to their newest event's seq: a row then points past
    the chain's end if its tail is cut. An event with a delivery is about the delivery; one with only a post is
    about the post. One statement per table (the publish path's events are all about deliveries: one)."""
    about: dict[str, dict[str, int]] = {"deliveries": {}, "posts": {}}
    for r in rows:  # seq ascending: the last one written per row wins
        if r[5] is not None:
            about["deliveries"][r[5]] = r[0]
        elif r[4] is not None:
            about["posts"][r[4]] = r[0]
    for table, newest in about.items():
        if newest:
            _set_audit_seq(conn, d, table, list(newest.items()))


def _set_audit_seq(conn: Connection, d: rawsql.Dialect, table: str, pairs: list[tuple[str, int]]) -> None:
    if not d.sqlite:
        rawsql.execute_many(conn, f"UPDATE {table} SET audit_seq = v.seq FROM unnest(%s::varchar[], %s::int[]) "
                                  f"AS v(id, seq) WHERE {table}.id = v.id",
                            [([i for i, _ in pairs], [s for _, s in pairs])])
    elif len(pairs) == 1 or not rawsql.MULTI_ROW:  # one row; or SQLite before 3.33, which has no UPDATE ... FROM
        rawsql.execute_many(conn, f"UPDATE {table} SET audit_seq = ? WHERE id = ?", [(s, i) for i, s in pairs])
    else:
        for start in range(0, len(pairs), rawsql.MAX_ROWS):
            chunk = pairs[start:start + rawsql.MAX_ROWS]
            values = ", ".join(["(?, ?)"] * len(chunk))
            rawsql.execute_many(conn, f"UPDATE {table} SET audit_seq = v.column2 FROM (VALUES {values}) AS v "
                                      f"WHERE {table}.id = v.column1", [tuple(x for p in chunk for x in p)])


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


# -- what the chain says about the rows: their content digest and their newest event --

#: the detail key of an event that creates or changes a row's content: ``content_digest`` of the row as written
DIGEST_KEY = "content_sha256"
POST_FIELDS = ("kind", "text", "link", "language", "variables", "scheduled_at", "not_after", "thread_key",
               "thread_seq", "idem_scope", "idem_key", "overrides", "created_by", "created_at")
DELIVERY_FIELDS = ("post_id", "account", "channel", "part", "payload", "prev_id", "thread_key")


def content_digest(row: Mapping[str, Any], fields: tuple[str, ...]) -> str:
    """sha256 of a row's content fields, canonical: what ``verify`` recomputes from the table and compares with
    the digest in the row's newest digest event. Times as the chain writes them (naive UTC, microseconds)."""
    values = {f: _at_text(v) if isinstance(v, datetime) else v for f in fields for v in (row.get(f),)}
    return hashlib.sha256(_canonical(values).encode("utf-8")).hexdigest()


def post_digest(row: Mapping[str, Any]) -> str:
    return content_digest(row, POST_FIELDS)


def delivery_digest(row: Mapping[str, Any]) -> str:
    return content_digest(row, DELIVERY_FIELDS)


def head(conn: Connection) -> tuple[int, str]:
    """The chain's newest (seq, hash): ``(0, GENESIS)`` for an empty log. Give it to a witness outside the store
    (a log, a ticket, another machine); ``verify(expect=...)`` later proves the log still holds it."""
    return _head(conn)


def parse_head(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` as ``audit head`` prints it. ValueError if it is not that."""
    seq_s, sep, hash_s = text.strip().partition(":")
    if not sep or not seq_s.isdigit() or len(hash_s) != 64 or any(c not in "0123456789abcdef" for c in hash_s):
        raise ValueError(f"{text!r} is not SEQ:HASH (a number, a colon, 64 lowercase hex digits)")
    return int(seq_s), hash_s


@dataclass
class Verification:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    head: tuple[int, str] = (0, GENESIS)
    #: what was checked: "chain", "rows" (audit_seq and content digests), "witness" (an expected head), "key"
    modes: list[str] = field(default_factory=list)
    #: every finding after the chain itself verified, one sentence each, naming the row or event
    problems: list[str] = field(default_factory=list)
    rows: int = 0  #: posts and deliveries checked against the chain
    unanchored: int = 0  #: rows without audit_seq (written before it existed): their tail cannot be checked
    undigested: int = 0  #: rows whose events carry no content digest (written before digests): content unchecked
    seals: int = 0  #: seal events in the log (keyed mode); checked only when verify is given the key


@dataclass
class _Latest:
    first: int
    seq: int = 0
    digest: str | None = None
    digest_seq: int = 0


def verify(conn: Connection, expect: list[tuple[int, str]] | None = None, key: bytes | None = None,
           check_rows: bool = True) -> Verification:
    """Recompute the chain; then check each post and delivery against it (its ``audit_seq`` is its newest event,
    which exists; its content matches the digest of its newest digest event); given ``expect``, that the chain
    still holds each witnessed (seq, hash); given ``key``, every seal and that the log ends with one. The first
    chain break stops the check. ``check_rows=False`` is the plain chain alone (what it misses: docs/audit.md)."""
    prev_hash, expected_seq, n = GENESIS, 1, 0
    wanted = {s for s, _ in expect or []}
    seen: dict[int, str] = {0: GENESIS}
    latest: dict[str, dict[str, _Latest]] = {"posts": {}, "deliveries": {}}
    seals, last_seal, bad_seals = 0, 0, []
    since = 0  # the first event with a content digest: rows first audited after it were written by this code
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
        if r["action"] == SEAL:
            seals, last_seal = seals + 1, r["seq"]
            if key is not None and json.loads(r["details"]).get("mac") != _mac(key, prev_hash):
                bad_seals.append(r["seq"])
        prev_hash = r["hash"]
        expected_seq += 1
        if r["seq"] in wanted:
            seen[r["seq"]] = r["hash"]
        about_key = ("deliveries", r["delivery_id"]) if r["delivery_id"] is not None else ("posts", r["post_id"])
        if about_key[1] is not None:
            about = latest[about_key[0]].get(about_key[1])
            if about is None:
                about = latest[about_key[0]][about_key[1]] = _Latest(r["seq"])
            about.seq = r["seq"]
            if DIGEST_KEY in r["details"]:
                digest = json.loads(r["details"]).get(DIGEST_KEY)
                if digest is not None:
                    about.digest, about.digest_seq = digest, r["seq"]
                    since = since or r["seq"]
    v = Verification(True, n, head=(n, prev_hash), modes=["chain"], seals=seals)
    if check_rows:
        v.modes.append("rows")
        _check_rows(conn, v, latest, since)
    if expect:
        v.modes.append("witness")
        for seq, want in expect:
            if seq not in seen:
                v.problems.append(f"event {seq}, witnessed with hash {want[:12]}..., is missing: the log ends at event "
                                  f"{n}, so its tail was cut")
            elif seen[seq] != want:
                v.problems.append(f"event {seq} has hash {seen[seq][:12]}... but the witness recorded {want[:12]}...: "
                                  f"the chain up to event {seq} was rewritten (edited and its hashes recomputed)")
    if key is not None:
        v.modes.append("key")
        if bad_seals:
            v.problems.append(f"seal event {bad_seals[0]} does not match the key ({len(bad_seals)} of {seals} seals "
                              f"fail): the events before it were rewritten without the key, or the key is another")
        if n and last_seal != n:
            v.problems.append(f"events {last_seal + 1} to {n} come after the last seal: written without the key "
                              "(forged), or their seal was removed")
    if v.problems:
        v.ok, v.reason = False, v.problems[0]
    return v


def _check_rows(conn: Connection, v: Verification, latest: dict[str, dict[str, _Latest]], since: int) -> None:
    """``since``: the first event with a content digest. A row first audited after it was written since audit_seq
    and digests exist: it must have both. One audited before may predate them: it is counted, not failed."""
    end = v.head[0]
    for name, table, fields in (("post", posts, POST_FIELDS), ("delivery", deliveries, DELIVERY_FIELDS)):
        about = latest[str(table.name)]
        for row in _table_rows(conn, table):
            v.rows += 1
            ev = about.pop(row["id"], None)
            at = row["audit_seq"]
            if ev is None:
                v.problems.append(f"{name} {row['id']} has no audit event"
                                  + (f" (it records event {at}; the log ends at {end})" if at is not None else "")
                                  + ": its events were removed, or the row was inserted outside publisher")
                continue
            new = bool(since) and ev.first >= since
            if at is None and new:
                v.problems.append(f"{name} {row['id']} has no audit_seq, though it was first audited at event "
                                  f"{ev.first}, after audit_seq existed: it was cleared or the row inserted outside publisher")
            elif at is None:
                v.unanchored += 1
            elif at > end:
                v.problems.append(f"{name} {row['id']} records audit event {at}, past the log's end at event {end}: "
                                  "the log's tail was cut")
            elif at != ev.seq:
                v.problems.append(f"{name} {row['id']} records audit event {at} as its newest, but the newest event "
                                  f"about it is {ev.seq}: events about it were removed or forged")
            if ev.digest is None and new:
                v.problems.append(f"{name} {row['id']} has no content digest, though it was first audited at event "
                                  f"{ev.first}, after digests existed: the row was inserted outside publisher")
            elif ev.digest is None:
                v.undigested += 1
            elif content_digest(row, fields) != ev.digest:
                v.problems.append(f"{name} {row['id']} no longer matches the content digest in event {ev.digest_seq}: "
                                  "the row was edited outside publisher")
        for row_id, ev in about.items():
            v.problems.append(f"audit event {ev.seq} is about {name} {row_id}, which does not exist: the row was deleted")


def _table_rows(conn: Connection, table: Table, batch: int = 5000) -> Iterator[dict[str, Any]]:
    last = ""
    while True:
        chunk = conn.execute(select(table).where(table.c.id > last).order_by(table.c.id).limit(batch)).mappings().all()
        if not chunk:
            return
        for r in chunk:
            yield dict(r)
        last = chunk[-1]["id"]


def export_jsonl(conn: Connection) -> Iterator[str]:
    for r in rows(conn):
        r = dict(r)
        r["at"] = r["at"].isoformat()
        r["details"] = json.loads(r["details"])
        yield json.dumps(r, ensure_ascii=False, sort_keys=True)
