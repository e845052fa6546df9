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
import heapq
import hmac
import json
import os
import stat
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from publisher import rawsql
from publisher.credentials import redact

if TYPE_CHECKING:
    from sqlalchemy import Connection, Table
# SQLAlchemy and publisher.schema are imported where used: appending (the CLI's write path) needs neither

GENESIS = "0" * 64


_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode
_STRING: Any = json.encoder.encode_basestring  # type: ignore[attr-defined]  # what _ENCODE does to a str


def _canonical(event: Any) -> str:
    return _ENCODE(event)


def _digest(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + _canonical(event)).encode("utf-8")).hexdigest()


def _at_text(at: datetime) -> str:
    """The event time as the chain hashes it: naive UTC, microseconds."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _event_fields(seq: int, at: datetime, actor: str, action: str, post_id: str | None, delivery_id: str | None,
                  account: str | None, details: str, stream: int = 0, stream_seq: int | None = None) -> dict[str, Any]:
    """What an event's hash covers. An event of stream 0 whose place in it is its seq (every event written before
    streams existed, and every event on SQLite) hashes as before; any other also covers its stream and place."""
    fields = {
        "seq": seq,
        "at": _at_text(at),
        "actor": actor,
        "action": action,
        "post_id": post_id,
        "delivery_id": delivery_id,
        "account": account,
        "details": details,
    }
    if not _legacy(seq, stream, stream_seq):
        fields["stream"], fields["stream_seq"] = stream, stream_seq
    return fields


def _legacy(seq: int, stream: int, stream_seq: int | None) -> bool:
    return stream == 0 and (stream_seq is None or stream_seq == seq)


def event_hash(prev_hash: str, r: Mapping[str, Any]) -> str:
    """The hash of a stored event (a row of audit_events) chained from ``prev_hash``."""
    return _digest(prev_hash, _event_fields(r["seq"], r["at"], r["actor"], r["action"], r["post_id"],
                                            r["delivery_id"], r["account"], r["details"], r["stream"], r["stream_seq"]))


@dataclass
class Event:
    action: str
    post_id: str | None = None
    delivery_id: str | None = None
    account: str | None = None
    details: dict[str, Any] | None = None


class Pending(NamedTuple):
    """An event rendered ahead of its transaction, outside the write lock: its canonical text around the two
    fields only the transaction knows (``at`` and ``seq``; "seq" sorts last, "at" between "actor" and
    "delivery_id"), and its row. Appended by ``append_pending``, it chains exactly as ``append`` would chain it.
    A named tuple: forked campaign builders send thousands back, and a slots dataclass cost 5x as much to pickle."""

    head: str
    tail: str
    row: tuple[str, str, str | None, str | None, str | None, str]  # actor, action, post_id, delivery_id, account, details
    #: the global seq the statement that changed its delivery already took and stored as the row's ``audit_seq``
    #: (PostgreSQL's transitions, ``store.apply``); None: taken when the events are flushed
    seq: int | None = None


def pending(actor: str, ev: Event) -> Pending:
    details = redact(_canonical(ev.details or {}))

    def s(v: str | None) -> str:
        return "null" if v is None else str(_STRING(v))

    head = f'{{"account":{s(ev.account)},"action":{s(ev.action)},"actor":{s(actor)},"at":'
    tail = f',"delivery_id":{s(ev.delivery_id)},"details":{s(details)},"post_id":{s(ev.post_id)},"seq":'
    return Pending(head, tail, (actor, ev.action, ev.post_id, ev.delivery_id, ev.account, details))


HEAD_KEY = "publisher_audit_head"
_COLUMNS = ("seq", "at", "actor", "action", "post_id", "delivery_id", "account", "details", "prev_hash", "hash",
            "stream", "stream_seq")

#: the streams migration 0008 creates (rows of audit_heads). On PostgreSQL a write transaction appends to the first
#: stream whose head it can lock without waiting; SQLite has one writer at a time and uses stream 0 only.
STREAMS = 16


def _stream_hint() -> int:
    """Where this thread starts looking for a free stream: a thread tends to get the same stream back, uncontended."""
    return hash((os.getpid(), threading.get_ident())) % STREAMS


def _lock_stream(conn: Connection, d: rawsql.Dialect, n: int) -> tuple[tuple[int, int, str], list[int]]:
    """Lock one stream's head until COMMIT: (stream, its newest stream_seq, its newest hash), and the global seqs
    of the ``n`` events to append (on PostgreSQL in the same round trip)."""
    if d.sqlite:  # the transaction already holds SQLite's single write lock
        row = rawsql.fetch_one(conn, "SELECT stream, stream_seq, hash FROM audit_heads WHERE stream = 0")
        seqs = _global_seqs(conn, d, n)
    else:
        hint = _stream_hint()
        take = ("SELECT h.stream, h.stream_seq, h.hash, ARRAY(SELECT nextval('audit_global_seq') FROM "
                "generate_series(1, %s)) FROM (SELECT stream, stream_seq, hash FROM audit_heads {} LIMIT 1 {}) AS h")
        row = rawsql.fetch_one(conn, take.format("ORDER BY stream < %s, stream", "FOR UPDATE SKIP LOCKED"), (n, hint))
        if row is None:  # every head is taken: wait for this thread's own
            row = rawsql.fetch_one(conn, take.format("WHERE stream = %s", "FOR UPDATE"), (n, hint))
        seqs = sorted(int(x) for x in row[3]) if row is not None else []
    if row is None:
        from publisher.errors import ConfigError

        raise ConfigError("the audit log has no stream heads (table audit_heads is empty)",
                          hint="the store was not migrated by publisher: restore a backup, or run migration 0008")
    return (int(row[0]), int(row[1]), str(row[2])), seqs


def _global_seqs(conn: Connection, d: rawsql.Dialect, n: int) -> list[int]:
    """The global seq of the next ``n`` events: on SQLite (one writer) the next numbers, so a log of stream 0 alone
    numbers its events by their place in it; on PostgreSQL from a sequence, taken after every row lock of the
    transaction, so the events about one row are in seq order."""
    if d.sqlite:
        last = rawsql.fetch_one(conn, "SELECT MAX(seq) FROM audit_events")
        start = int(last[0]) if last and last[0] is not None else 0
        return list(range(start + 1, start + n + 1))
    return sorted(int(r[0]) for r in rawsql.fetch_all(
        conn, "SELECT nextval('audit_global_seq') FROM generate_series(1, %s)", (n,)))


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
        # a connection the server dropped mid-transaction is invalidated, and touching its ``info`` then raises
        # PendingRollbackError, which would hide the driver's error (the scheduler logged only that); the next
        # transaction on this pool entry starts its queue afresh anyway
        if not getattr(conn, "invalidated", False):  # the CLI's driver-only SQLite connection has no such state
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
    to_db = d.binders("audit_events")["at"]
    now = datetime.now(UTC)
    key = audit_key()
    if key is not None:  # keyed mode: the transaction's last event seals its stream up to it
        batches = [*batches, ([_SEAL_MARK], None)]
    taken = not d.sqlite and _seqs_in_order(batches)
    n = sum(1 for evs, _ in batches for ev in evs if not (taken and ev.seq is not None))
    # one stream head is locked per transaction, at its first flush, until COMMIT (``queued`` clears it at BEGIN)
    if HEAD_KEY in conn.info:
        (stream, k, prev), numbers = conn.info[HEAD_KEY], (_global_seqs(conn, d, n) if n else [])
    else:
        (stream, k, prev), numbers = _lock_stream(conn, d, n)
    seqs = iter(numbers)
    rows: list[tuple[Any, ...]] = []
    fresh: list[tuple[Any, ...]] = []  # the rows whose seq was taken here: only their posts/deliveries need anchors
    for events, at in batches:
        at_db, at_text = to_db(at or now), _STRING(_at_text(at or now))
        for ev in events:
            k, seq = k + 1, (ev.seq if taken and ev.seq is not None else next(seqs))
            if ev is _SEAL_MARK:
                ev = pending(rows[-1][2], Event(SEAL, details={"mac": _mac(key or b"", prev)}))
            place = "" if _legacy(seq, stream, k) else f',"stream":{stream},"stream_seq":{k}'
            digest = hashlib.sha256(f"{prev}{ev.head}{at_text}{ev.tail}{seq}{place}}}".encode()).hexdigest()
            rows.append((seq, at_db, *ev.row, prev, digest, stream, k))
            if not (taken and ev.seq is not None):
                fresh.append(rows[-1])
            prev = digest
    if not d.sqlite:  # the events, the rows' anchors and the stream head: one statement, one round trip
        about = _newest_about(fresh)
        cols = [list(c) for c in zip(*rows, strict=True)]
        rawsql.execute_many(conn, _PG_FLUSH, [(*cols, *_pairs(about["deliveries"]), *_pairs(about["posts"]),
                                               k, prev, rows[-1][0], stream)])
        conn.info[HEAD_KEY] = (stream, k, prev)
        return
    rawsql.insert_many(conn, "audit_events", _COLUMNS, rows)
    _anchor(conn, d, rows)
    p = d.param
    rawsql.execute_many(conn, f"UPDATE audit_heads SET stream_seq = {p('k')}, hash = {p('h')}, seq = {p('q')} "
                              f"WHERE stream = {p('s')}", [{"k": k, "h": prev, "q": rows[-1][0], "s": stream}])
    conn.info[HEAD_KEY] = (stream, k, prev)


#: PostgreSQL's flush: the events inserted from arrays (bound in binary: one parameter per column, not per value),
#: ``audit_seq`` of the deliveries and posts they are about, and the stream head, in one statement. Its text never
#: changes, so psycopg prepares it on the server once a connection like any other statement (``Store``).
_PG_TYPES = ("bigint", "timestamp", "text", "text", "text", "text", "text", "text", "text", "text", "int", "int")
_PG_FLUSH = (
    f"WITH ev AS (INSERT INTO audit_events ({', '.join(_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"%b::{t}[]" for t in _PG_TYPES) + ")), "
    "d AS (UPDATE deliveries SET audit_seq = v.seq FROM unnest(%b::text[], %b::bigint[]) AS v(id, seq) "
    "WHERE deliveries.id = v.id), "
    "p AS (UPDATE posts SET audit_seq = v.seq FROM unnest(%b::text[], %b::bigint[]) AS v(id, seq) "
    "WHERE posts.id = v.id) "
    "UPDATE audit_heads SET stream_seq = %s, hash = %s, seq = %s WHERE stream = %s")


def _seqs_in_order(batches: list[tuple[list[Pending], datetime | None]]) -> bool:
    """Whether the seqs the transaction's statements already took (``Pending.seq``) can stand: they rise in the
    order the events were appended, and come before every event still to be numbered (whose seqs, taken now, are
    higher). Otherwise every event is numbered now and every row anchored again, as when none were taken: the
    chain's order is always the order of appending, and a row's ``audit_seq`` always its newest event's."""
    last, unnumbered = 0, False
    for events, _ in batches:
        for ev in events:
            if ev.seq is None:
                unnumbered = True
            elif unnumbered or ev.seq <= last:
                return False
            else:
                last = ev.seq
    return last > 0


def _pairs(newest: dict[str, int]) -> tuple[list[str], list[int]]:
    return list(newest), list(newest.values())


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
    for table, newest in _newest_about(rows).items():
        if newest:
            _set_audit_seq(conn, d, table, list(newest.items()))


def _newest_about(rows: list[tuple[Any, ...]]) -> dict[str, dict[str, int]]:
    """By table, the newest seq of the events about each row (a delivery's, else a post's)."""
    about: dict[str, dict[str, int]] = {"deliveries": {}, "posts": {}}
    for r in rows:  # seq ascending: the last one written per row wins
        if r[5] is not None:
            about["deliveries"][r[5]] = r[0]
        elif r[4] is not None:
            about["posts"][r[4]] = r[0]
    return about


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
    from sqlalchemy import select

    from publisher.schema import audit_events

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


# -- seals: one global chain over the streams' heads --

#: PostgreSQL advisory lock held only by a transaction that writes a seal (never on the publish path)
_SEAL_LOCK = 0x70756232  # "pub2"
_SEAL_COLUMNS = ("seq", "at", "heads", "root", "prev_hash", "hash", "mac")


def merkle_root(heads: list[list[Any]]) -> str:
    """RFC 6962 (Certificate Transparency) Merkle tree hash over the stream heads ``[stream, stream_seq, hash]``:
    leaves and inner nodes are domain-separated, so no head list can pose as another."""
    def tree(leaves: list[bytes]) -> bytes:
        if len(leaves) == 1:
            return hashlib.sha256(b"\x00" + leaves[0]).digest()
        split = 1 << ((len(leaves) - 1).bit_length() - 1)  # the largest power of two below len
        return hashlib.sha256(b"\x01" + tree(leaves[:split]) + tree(leaves[split:])).digest()

    if not heads:
        return hashlib.sha256(b"").hexdigest()
    return tree([f"{s}:{k}:{h}".encode() for s, k, h in heads]).hex()


def seal_hash(prev_hash: str, seq: int, at: datetime, heads: str, root: str) -> str:
    """A seal's hash: its seq, time, the heads it commits (canonical JSON text), their root, chained from the seal
    before it."""
    return _digest(prev_hash, {"seq": seq, "at": _at_text(at), "heads": heads, "root": root})


def _stream_heads(conn: Connection) -> list[list[Any]]:
    """Every non-empty stream's newest event, by stream, as committed (one statement: one snapshot)."""
    return [[int(s), int(k), str(h)] for s, k, h in rawsql.fetch_all(
        conn, "SELECT stream, stream_seq, hash FROM audit_heads WHERE stream_seq > 0 ORDER BY stream")]


def seal(conn: Connection, at: datetime | None = None) -> tuple[int, str]:
    """Commit every stream's head into the global chain: a new seal if any head moved since the newest one.
    Returns the newest seal's (seq, hash), ``(0, GENESIS)`` for an empty log. Written by the scheduler's sweep,
    ``audit seal`` and ``audit head``; holds a lock of its own, never the writers'."""
    d = rawsql.dialect_of(conn)
    if not d.sqlite:
        rawsql.execute(conn, f"SELECT pg_advisory_xact_lock({_SEAL_LOCK})")
    heads = _stream_heads(conn)
    last = rawsql.fetch_one(conn, "SELECT seq, hash, heads FROM audit_seals ORDER BY seq DESC LIMIT 1")
    if last is not None and json.loads(last[2]) == heads:
        return int(last[0]), str(last[1])
    if not heads:
        return 0, GENESIS
    seq, prev = (int(last[0]) + 1, str(last[1])) if last is not None else (1, GENESIS)
    when = at or datetime.now(UTC)
    text, root = _canonical(heads), merkle_root(heads)
    digest = seal_hash(prev, seq, when, text, root)
    key = audit_key()
    mac = hmac.new(key, digest.encode(), hashlib.sha256).hexdigest() if key is not None else None
    rawsql.insert_many(conn, "audit_seals", _SEAL_COLUMNS,
                       [(seq, d.binders(_seals())["at"](when), text, root, prev, digest, mac)])
    return seq, digest


def _seals() -> Table:
    from publisher.schema import audit_seals

    return audit_seals


def head(conn: Connection) -> tuple[int, str]:
    """The newest seal's (seq, hash): ``(0, GENESIS)`` before the first. Give it to a witness outside the store
    (a log, a ticket, another machine); ``verify(expect=...)`` later proves the log still holds it and every event
    it sealed. ``audit head`` seals first (``seal``), so the head it prints covers every event committed by then."""
    row = rawsql.fetch_one(conn, "SELECT seq, hash FROM audit_seals ORDER BY seq DESC LIMIT 1")
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


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


def _stream_rows(conn: Connection, stream: int, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """One stream's events by their place in it, streamed in batches."""
    from sqlalchemy import select

    from publisher.schema import audit_events

    last = -1
    while True:
        chunk = conn.execute(select(audit_events).where(audit_events.c.stream == stream,
                                                        audit_events.c.stream_seq > last)
                             .order_by(audit_events.c.stream_seq).limit(batch)).mappings().all()
        if not chunk:
            return
        for r in chunk:
            yield dict(r)
        last = chunk[-1]["stream_seq"]


def _place(stream: int, k: int, seq: int | None = None) -> str:
    """How a message names an event: by seq where it is also its place in stream 0 (every log before streams, and
    SQLite), else by stream and place."""
    if seq is not None and _legacy(seq, stream, k):
        return f"event {seq}"
    return f"event {seq} (#{k} of stream {stream})" if seq is not None else f"event #{k} of stream {stream}"


@dataclass
class _Seal:
    seq: int
    at: datetime
    heads: str
    root: str
    prev_hash: str
    hash: str
    mac: str | None


def verify(conn: Connection, expect: list[tuple[int, str]] | None = None, key: bytes | None = None,
           check_rows: bool = True) -> Verification:
    """Recompute every stream's chain (its places 1, 2, 3... without gaps, each event chained from the one before
    it) and check each stream's head row is its last event; recompute the chain of seals and check each sealed head
    is still in its stream with that hash; then check each post and delivery against the events (its ``audit_seq``
    is its newest event, which exists; its content matches the digest of its newest digest event); given
    ``expect``, that each witnessed seal (or, from before streams, event) still has its hash; given ``key``, every
    seal event and seal, and that each stream ends with a seal event. The first chain break stops the check.
    ``check_rows=False`` is the chains alone (what they miss: docs/audit.md)."""
    wanted = {s for s, _ in expect or []}
    seen: dict[int, str] = {0: GENESIS}
    latest: dict[str, dict[str, _Latest]] = {"posts": {}, "deliveries": {}}
    seals, bad_seals, unsealed = 0, [], []
    since = 0  # the first event with a content digest: rows first audited after it were written by this code
    from sqlalchemy import select

    from publisher.schema import audit_seals

    sealed = [_Seal(**r) for r in conn.execute(select(audit_seals).order_by(audit_seals.c.seq)).mappings()]
    needed: dict[tuple[int, int], str | None] = {}  # (stream, place) each seal names -> its hash in the log
    for sl in sealed:
        try:
            for st, k, _h in json.loads(sl.heads):
                needed[(int(st), int(k))] = None
        except (ValueError, TypeError):
            pass  # reported by the seal checks below
    streams = sorted({int(r[0]) for r in rawsql.fetch_all(conn, "SELECT stream FROM audit_heads")}
                     | {int(r[0]) for r in rawsql.fetch_all(conn, "SELECT DISTINCT stream FROM audit_events")})
    tails: dict[int, tuple[int, str]] = {}
    n, end = 0, 0
    breaks: list[tuple[int, str, int]] = []  # (seq, reason, stream): the first break of each broken stream
    for stream in streams:
        prev_hash, k, last_seal = GENESIS, 0, 0
        for r in _stream_rows(conn, stream):
            n += 1
            if r["stream_seq"] != k + 1:
                bad = k + 1 if r["seq"] == r["stream_seq"] else r["seq"]
                breaks.append((bad, f"{_place(stream, k + 1, bad if bad == k + 1 else None)} is missing (next present "
                                    f"is {r['seq']}): a row was deleted or reordered", stream))
                break
            if r["prev_hash"] != prev_hash:
                breaks.append((r["seq"], f"{_place(stream, r['stream_seq'], r['seq'])} does not chain from the event "
                                         "before it: rows were reordered or replaced", stream))
                break
            if event_hash(prev_hash, r) != r["hash"]:
                breaks.append((r["seq"], f"{_place(stream, r['stream_seq'], r['seq'])} was edited: its content no "
                                         "longer matches its hash", stream))
                break
            if r["action"] == SEAL:
                seals, last_seal = seals + 1, r["stream_seq"]
                if key is not None and json.loads(r["details"]).get("mac") != _mac(key, prev_hash):
                    bad_seals.append(r["seq"])
            prev_hash, k = r["hash"], r["stream_seq"]
            end = max(end, r["seq"])
            if r["seq"] in wanted:
                seen[r["seq"]] = r["hash"]
            if (stream, k) in needed:
                needed[(stream, k)] = r["hash"]
            _note(latest, r)
            if DIGEST_KEY in r["details"] and json.loads(r["details"]).get(DIGEST_KEY) is not None:
                since = min(since, r["seq"]) if since else r["seq"]
        tails[stream] = (k, prev_hash)
        if key is not None and k and last_seal != k:
            unsealed.append((stream, last_seal, k))
    for stream, k, seq in rawsql.fetch_all(conn, "SELECT stream, stream_seq, seq FROM audit_heads"):
        tail = tails.get(int(stream), (0, ""))[0]
        if k > tail and not any(b[2] == stream for b in breaks):  # a cut tail
            first = tail + 1 if _legacy(int(seq), int(stream), int(k)) else None  # numbered by place: known
            breaks.append((first or int(seq), f"{_place(int(stream), tail + 1, first)} is missing, and every later "
                           f"event of stream {stream} up to its head, {_place(int(stream), int(k), int(seq))}: the "
                           f"stream ends at #{tail}, so its tail was cut", int(stream)))
    if breaks:  # the first broken link in global order; a break stops the check
        bad, reason, _ = min(breaks)
        return Verification(False, n - 1, bad, reason)
    v = Verification(True, n, head=head(conn), modes=["chain"], seals=seals)
    _check_heads(conn, v, tails)
    _check_seals(v, sealed, needed, tails, key)
    if check_rows:
        v.modes.append("rows")
        _check_rows(conn, v, latest, since, end)
    if expect:
        v.modes.append("witness")
        by_seq = {sl.seq: sl.hash for sl in sealed}
        for seq, want in expect:
            if seq in by_seq and by_seq[seq] == want or seen.get(seq) == want:
                continue  # a seal, or an event head witnessed before streams existed
            if seq in by_seq:
                v.problems.append(f"seal {seq} has hash {by_seq[seq][:12]}... but the witness recorded {want[:12]}...: "
                                  f"the events it sealed were cut or rewritten, and the seals recomputed")
            elif seq in seen and sealed:
                v.problems.append(f"seal {seq}, witnessed with hash {want[:12]}..., is missing: the seals end at "
                                  f"{sealed[-1].seq}, so their tail was cut (and event {seq}, if this is an event "
                                  "head witnessed before seals existed, no longer has that hash)")
            elif seq in seen:
                v.problems.append(f"event {seq} has hash {seen[seq][:12]}... but the witness recorded {want[:12]}...: "
                                  f"the chain up to event {seq} was rewritten (edited and its hashes recomputed), "
                                  f"or the seals were deleted")
            else:
                v.problems.append(f"seal {seq}, witnessed with hash {want[:12]}..., is missing: the seals end at "
                                  f"{sealed[-1].seq if sealed else 0}, so their tail was cut")
    if key is not None:
        v.modes.append("key")
        if bad_seals:
            v.problems.append(f"seal event {bad_seals[0]} does not match the key ({len(bad_seals)} of {seals} seal "
                              "events fail): the events before it were rewritten without the key, or the key is another")
        for stream, last, k in unsealed:
            v.problems.append(f"events #{last + 1} to #{k} of stream {stream} come after the last seal event of "
                              "their stream: written without the key (forged), or their seal was removed")
        bad = [sl.seq for sl in sealed if sl.mac != hmac.new(key, sl.hash.encode(), hashlib.sha256).hexdigest()]
        if bad:
            v.problems.append(f"seal {bad[0]} does not match the key ({len(bad)} of {len(sealed)} seals fail): the "
                              "seals were recomputed without the key (the events they sealed were cut or rewritten), "
                              "or written by a process without the key")
    if v.problems:
        v.ok, v.reason = False, v.problems[0]
    return v


def _note(latest: dict[str, dict[str, _Latest]], r: Mapping[str, Any]) -> None:
    """Keep, per post and delivery, its first and newest event by global seq, and its newest content digest."""
    table, row_id = ("deliveries", r["delivery_id"]) if r["delivery_id"] is not None else ("posts", r["post_id"])
    if row_id is None:
        return
    about = latest[table].get(row_id)
    if about is None:
        about = latest[table][row_id] = _Latest(r["seq"])
    about.first, about.seq = min(about.first, r["seq"]), max(about.seq, r["seq"])
    if DIGEST_KEY in r["details"]:
        digest = json.loads(r["details"]).get(DIGEST_KEY)
        if digest is not None and r["seq"] > about.digest_seq:
            about.digest, about.digest_seq = digest, r["seq"]


def _check_heads(conn: Connection, v: Verification, tails: dict[int, tuple[int, str]]) -> None:
    """Each stream's head row is its last event (a head past it, a cut tail, is a chain break: see ``verify``)."""
    for stream, k, h in rawsql.fetch_all(conn, "SELECT stream, stream_seq, hash FROM audit_heads ORDER BY stream"):
        tail_k, tail_h = tails.get(int(stream), (0, GENESIS))
        if k < tail_k:
            v.problems.append(f"stream {stream} has events past its head (#{k} to #{tail_k}): appended outside "
                              "publisher, or its head was rewound")
        elif h != tail_h:
            v.problems.append(f"stream {stream}'s head hash is not its last event's: the stream was rewritten")


def _check_seals(v: Verification, sealed: list[_Seal], needed: dict[tuple[int, int], str | None],
                 tails: dict[int, tuple[int, str]], key: bytes | None) -> None:
    """The chain of seals (seq 1, 2, 3..., each chained from the one before), each seal's root over its heads, no
    stream going back between seals, and each sealed head still in its stream with the hash sealed."""
    prev, last_heads = GENESIS, dict[int, int]()
    for i, sl in enumerate(sealed, 1):
        if sl.seq != i:
            v.problems.append(f"seal {i} is missing (next present is {sl.seq}): a seal was deleted")
            return
        if sl.prev_hash != prev or seal_hash(prev, sl.seq, sl.at, sl.heads, sl.root) != sl.hash:
            v.problems.append(f"seal {sl.seq} was edited or does not chain from seal {sl.seq - 1}")
            return
        try:
            heads = [(int(s), int(k), str(h)) for s, k, h in json.loads(sl.heads)]
        except (ValueError, TypeError):
            v.problems.append(f"seal {sl.seq} holds no readable heads: it was edited")
            return
        if merkle_root([list(h) for h in heads]) != sl.root:
            v.problems.append(f"seal {sl.seq}'s root is not the Merkle root of its heads: it was edited")
        for s, k, h in heads:
            if k < last_heads.get(s, 0):
                v.problems.append(f"seal {sl.seq} has stream {s} at #{k}, behind seal {sl.seq - 1}'s #{last_heads[s]}: "
                                  "the stream was rewound")
            last_heads[s] = k
            found = needed.get((s, k))
            if found is None:
                v.problems.append(f"{_place(s, k)}, sealed by seal {sl.seq}, is missing: the stream ends at "
                                  f"#{tails.get(s, (0, ''))[0]}, so its tail was cut")
            elif found != h:
                v.problems.append(f"{_place(s, k)} no longer has the hash seal {sl.seq} sealed: the stream was "
                                  "rewritten (edited and its hashes recomputed)")
        prev = sl.hash


def _check_rows(conn: Connection, v: Verification, latest: dict[str, dict[str, _Latest]], since: int,
                end: int) -> None:
    """``since``: the first event with a content digest. A row first audited after it was written since audit_seq
    and digests exist: it must have both. One audited before may predate them: it is counted, not failed.
    ``end``: the highest seq in the log."""
    from publisher.schema import deliveries, posts

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
    from sqlalchemy import select

    last = ""
    while True:
        chunk = conn.execute(select(table).where(table.c.id > last).order_by(table.c.id).limit(batch)).mappings().all()
        if not chunk:
            return
        for r in chunk:
            yield dict(r)
        last = chunk[-1]["id"]


def export_jsonl(conn: Connection) -> Iterator[str]:
    """Every event as one ordered stream: the streams merged by (time, stream, place in it); each stream keeps its
    own order, so the export of a single-stream log (SQLite, or before streams) is in seq order."""
    streams = sorted({int(r[0]) for r in rawsql.fetch_all(conn, "SELECT DISTINCT stream FROM audit_events")})
    merged = heapq.merge(*(_stream_rows(conn, s) for s in streams),
                         key=lambda r: (r["at"], r["stream"], r["stream_seq"]))
    for r in merged:
        r = dict(r)
        r["at"] = r["at"].isoformat()
        r["details"] = json.loads(r["details"])
        yield json.dumps(r, ensure_ascii=False, sort_keys=True)
