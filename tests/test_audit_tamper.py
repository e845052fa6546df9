"""Tampering with a real store, case by case, and which check catches it (the table in docs/audit.md).

Each case runs on a log written by publisher itself (three posts, one cancelled), in two deployments: plain, and
keyed (PUBLISHER_AUDIT_KEY_FILE set while writing). Then ``verify`` runs in each mode: the chain alone, + rows
(audit_seq and content digests), + a witness of the head taken before the tampering, + the key. The test asserts
the exact set of modes that detect each case, so the plain chain's blind spots are pinned as documented too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, delete, func, select, update

from publisher import audit, rawsql, service
from publisher.models import State
from publisher.schema import audit_events, deliveries, posts
from publisher.store import Store, Transition, claim_due, get_deliveries, transitions
from tests.conftest import Env

PLAIN = ("chain", "rows", "witness")
KEYED = (*PLAIN, "key")


@dataclass
class Log:
    """What the seeded log holds: three posts, each with one delivery; the third one's delivery was cancelled."""

    posts: list[str]
    deliveries: list[str]
    key: bytes | None
    key_path: str | None = None
    witness: tuple[int, str] = (0, audit.GENESIS)
    first_of: dict[str, int] = field(default_factory=dict)  # post id -> seq of its post.accepted


def _seed(env: Env, monkeypatch: pytest.MonkeyPatch, keyed: bool) -> Log:
    key, key_path = None, None
    if keyed:
        path = env.home / "audit.key"
        path.write_bytes(b"k" * 32)
        path.chmod(0o600)
        key_path = str(path)
        monkeypatch.setenv(audit.KEY_FILE_ENV, key_path)
        key = audit.audit_key()
    settings, store = env.settings(), env.store()
    at = datetime.now(UTC) + timedelta(days=1)
    log = Log([], [], key, key_path)
    for i in range(3):
        result = service.accept(settings, store, service.NewPost(text=f"post {i}", accounts=["noc"], at=at))
        log.posts.append(result.post_id)
        log.deliveries.append(result.deliveries[0]["id"])
    service.cancel(settings, store, log.posts[2])
    monkeypatch.delenv(audit.KEY_FILE_ENV, raising=False)  # what the attacker runs has no key
    with store.read() as conn:
        log.witness = audit.head(conn)
        for p in log.posts:
            log.first_of[p] = conn.execute(select(audit_events.c.seq).where(
                audit_events.c.post_id == p, audit_events.c.action == "post.accepted")).scalar_one()
    return log


# -- what an attacker with write access to the database (but not the key) can do --


def _event(conn: Connection, seq: int) -> dict[str, object]:
    return dict(conn.execute(select(audit_events).where(audit_events.c.seq == seq)).mappings().one())


def _last_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.max(audit_events.c.seq))).scalar_one())


def _rehash_from(conn: Connection, start: int) -> None:
    """Recompute every hash from ``start`` on: the chain needs no key, so anyone can."""
    prev = audit.GENESIS if start == 1 else str(_event(conn, start - 1)["hash"])
    for r in conn.execute(select(audit_events).where(audit_events.c.seq >= start)
                          .order_by(audit_events.c.seq)).mappings().all():
        fields = audit._event_fields(r["seq"], r["at"], r["actor"], r["action"], r["post_id"], r["delivery_id"],
                                     r["account"], r["details"])
        digest = audit._digest(prev, fields)
        conn.execute(update(audit_events).where(audit_events.c.seq == r["seq"]).values(prev_hash=prev, hash=digest))
        prev = digest


def _append_forged(conn: Connection, delivery_id: str) -> int:
    """Append a 'published' event about ``delivery_id``, hashed exactly as publisher hashes."""
    seq = _last_seq(conn) + 1
    prev = str(_event(conn, seq - 1)["hash"])
    d = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).mappings().one()
    at, details = datetime.now(UTC), json.dumps({"from": d["state"], "to": "published"})
    fields = audit._event_fields(seq, at, "mallory", "published", d["post_id"], delivery_id, d["account"], details)
    conn.execute(audit_events.insert().values(seq=seq, at=at, actor="mallory", action="published",
                                              post_id=d["post_id"], delivery_id=delivery_id, account=d["account"],
                                              details=details, prev_hash=prev, hash=audit._digest(prev, fields)))
    return seq


def edit_field(conn: Connection, log: Log) -> None:
    conn.execute(update(audit_events).where(audit_events.c.seq == log.first_of[log.posts[1]]).values(actor="mallory"))


def swap(conn: Connection, log: Log) -> None:
    a, b = log.first_of[log.posts[1]], log.first_of[log.posts[1]] + 1
    ea, eb = _event(conn, a), _event(conn, b)
    for seq, other in ((a, eb), (b, ea)):
        conn.execute(update(audit_events).where(audit_events.c.seq == seq)
                     .values({k: v for k, v in other.items() if k != "seq"}))


def delete_middle(conn: Connection, log: Log) -> None:
    conn.execute(delete(audit_events).where(audit_events.c.seq == log.first_of[log.posts[1]]))


def insert_middle(conn: Connection, log: Log) -> None:
    """Make room before post 2's first event and put a correctly hashed forged event there."""
    at_seq = log.first_of[log.posts[1]]
    for seq in range(_last_seq(conn), at_seq - 1, -1):
        conn.execute(update(audit_events).where(audit_events.c.seq == seq).values(seq=seq + 1))
    prev, at, details = str(_event(conn, at_seq - 1)["hash"]), datetime.now(UTC), "{}"
    fields = audit._event_fields(at_seq, at, "mallory", "note", None, None, None, details)
    conn.execute(audit_events.insert().values(seq=at_seq, at=at, actor="mallory", action="note", details=details,
                                              prev_hash=prev, hash=audit._digest(prev, fields)))


def delete_last(conn: Connection, log: Log) -> None:
    conn.execute(delete(audit_events).where(audit_events.c.seq == _last_seq(conn)))


def truncate_tail(conn: Connection, log: Log) -> None:
    conn.execute(delete(audit_events).where(audit_events.c.seq >= log.first_of[log.posts[1]]))


def forge_appended(conn: Connection, log: Log) -> None:
    _append_forged(conn, log.deliveries[0])


def edit_and_rehash(conn: Connection, log: Log) -> None:
    edit_field(conn, log)
    _rehash_from(conn, log.first_of[log.posts[1]])


def edit_post_text(conn: Connection, log: Log) -> None:
    conn.execute(update(posts).where(posts.c.id == log.posts[0]).values(text="something else entirely"))


def edit_created_by(conn: Connection, log: Log) -> None:
    conn.execute(update(posts).where(posts.c.id == log.posts[0]).values(created_by="mallory"))


def edit_delivery_payload(conn: Connection, log: Log) -> None:
    d = conn.execute(select(deliveries.c.payload).where(deliveries.c.id == log.deliveries[0])).scalar_one()
    conn.execute(update(deliveries).where(deliveries.c.id == log.deliveries[0])
                 .values(payload={**d, "text": "something else entirely"}))


def truncate_and_clear_audit_seq(conn: Connection, log: Log) -> None:
    """Cut the cancel off the tail and hide it: the cancelled delivery keeps its earlier events, loses audit_seq."""
    cancel = conn.execute(select(audit_events.c.seq).where(audit_events.c.action == "cancelled")).scalar_one()
    conn.execute(delete(audit_events).where(audit_events.c.seq >= cancel))
    conn.execute(update(deliveries).where(deliveries.c.id == log.deliveries[2]).values(audit_seq=None))


def insert_forged_post(conn: Connection, log: Log) -> None:
    """A post row written by SQL: a worker would publish it."""
    row = dict(conn.execute(select(posts).where(posts.c.id == log.posts[0])).mappings().one())
    conn.execute(posts.insert().values({**row, "id": "p-forged", "text": "forged", "audit_seq": None}))


def insert_due_delivery(conn: Connection, log: Log) -> None:
    """A delivery row written by SQL, due now, for an existing post: the scheduler will queue it."""
    row = dict(conn.execute(select(deliveries).where(deliveries.c.id == log.deliveries[0])).mappings().one())
    conn.execute(deliveries.insert().values({**row, "id": "d-forged", "due_at": datetime.now(UTC), "audit_seq": None,
                                             "payload": {**row["payload"], "text": "forged"}}))


def scheduler_claims(store: Store, log: Log) -> None:
    with store.tx() as conn:
        assert [c["id"] for c in claim_due(conn, "scheduler", datetime.now(UTC), timedelta(0), 10)] == ["d-forged"]


def truncate_and_delete_rows(conn: Connection, log: Log) -> None:
    """The cover-up of a cut tail: the rows that would point past the end go too."""
    truncate_tail(conn, log)
    conn.execute(delete(deliveries).where(deliveries.c.post_id.in_(log.posts[1:])))
    conn.execute(delete(posts).where(posts.c.id.in_(log.posts[1:])))


def forge_and_repoint(conn: Connection, log: Log) -> None:
    seq = _append_forged(conn, log.deliveries[0])
    conn.execute(update(deliveries).where(deliveries.c.id == log.deliveries[0]).values(audit_seq=seq))


def delete_delivery_row(conn: Connection, log: Log) -> None:
    conn.execute(delete(deliveries).where(deliveries.c.id == log.deliveries[1]))


def edit_text_digest_and_rehash(conn: Connection, log: Log) -> None:
    """Edit a post's text, write the new content digest into its event, and recompute every later hash."""
    edit_post_text(conn, log)
    row = conn.execute(select(posts).where(posts.c.id == log.posts[0])).mappings().one()
    seq = log.first_of[log.posts[0]]
    details = json.loads(str(_event(conn, seq)["details"]))
    details[audit.DIGEST_KEY] = audit.post_digest(row)
    conn.execute(update(audit_events).where(audit_events.c.seq == seq)
                 .values(details=json.dumps(details, sort_keys=True, separators=(",", ":"))))
    _rehash_from(conn, seq)


@dataclass
class Case:
    tamper: Callable[[Connection, Log], None]
    plain: set[str]  #: the modes that detect it in a plain deployment
    keyed: set[str]  #: ... and in a keyed one
    says: dict[str, str] = field(default_factory=dict)  #: mode -> what its reason says, wherever it detects it
    names: Callable[[Log], str] | None = None  #: the row the rows mode's reason must name
    then: Callable[[Store, Log], None] | None = None  #: what publisher itself does next, with the key if keyed


ALL, ALL_KEYED = set(PLAIN), set(KEYED)
CHAIN = {"chain": "edited", "rows": "edited", "witness": "edited", "key": "edited"}
CUT = {"rows": "has no audit event", "witness": "its tail was cut"}
REHASHED = {"witness": "was rewritten", "key": "does not match the key"}
CONTENT = {"rows": "no longer matches the content digest"}
CASES = {
    "edit a field": Case(edit_field, ALL, ALL_KEYED, CHAIN),
    "swap two events": Case(swap, ALL, ALL_KEYED, dict.fromkeys(KEYED, "does not chain from")),
    "delete an event in the middle": Case(delete_middle, ALL, ALL_KEYED, dict.fromkeys(KEYED, "is missing")),
    "insert a forged event in the middle": Case(insert_middle, ALL, ALL_KEYED, dict.fromkeys(KEYED, "does not chain from")),
    # plain: the last event is about a delivery, which now points past the end; keyed: it is the seal
    "delete the last event": Case(delete_last, {"rows", "witness"}, {"witness", "key"},
                                  {"rows": "past the log's end", "witness": "its tail was cut",
                                   "key": "after the last seal"}),
    # keyed: cut at a transaction's end, the log still ends with a valid seal
    "truncate the tail": Case(truncate_tail, {"rows", "witness"}, {"rows", "witness"}, CUT),
    # the witnessed event keeps its hash: a later append is what a witness expects
    "append a forged event with a correct hash": Case(forge_appended, {"rows"}, {"rows", "key"},
                                                      {"rows": "but the newest event about it is",
                                                       "key": "after the last seal"}),
    "edit an event and recompute every later hash": Case(edit_and_rehash, {"witness"}, {"witness", "key"}, REHASHED),
    "edit a post's text": Case(edit_post_text, {"rows"}, {"rows"}, CONTENT, lambda log: f"post {log.posts[0]}"),
    "edit a post's created_by": Case(edit_created_by, {"rows"}, {"rows"}, CONTENT, lambda log: f"post {log.posts[0]}"),
    "edit a delivery's payload": Case(edit_delivery_payload, {"rows"}, {"rows"}, CONTENT,
                                      lambda log: f"delivery {log.deliveries[0]}"),
    "delete a delivery row": Case(delete_delivery_row, {"rows"}, {"rows"}, {"rows": "which does not exist"},
                                  lambda log: f"delivery {log.deliveries[1]}"),
    "truncate the tail and clear its row's audit_seq": Case(truncate_and_clear_audit_seq, {"rows", "witness"},
                                                            {"rows", "witness"},
                                                            {"rows": "has no audit_seq", "witness": "tail was cut"},
                                                            lambda log: f"delivery {log.deliveries[2]}"),
    "insert a post row": Case(insert_forged_post, {"rows"}, {"rows"}, {"rows": "inserted outside publisher"},
                              lambda log: "post p-forged"),
    "insert a delivery row that publisher then queues": Case(
        insert_due_delivery, {"rows"}, {"rows"}, {"rows": "has no content digest, though it was first audited"},
        lambda log: "delivery d-forged", then=scheduler_claims),
    "truncate the tail and delete its rows": Case(truncate_and_delete_rows, {"witness"}, {"witness"}, CUT),
    "append a forged event and point its row at it": Case(forge_and_repoint, set(), {"key"},
                                                          {"key": "after the last seal"}),
    "edit a post's text, its digest and every later hash": Case(edit_text_digest_and_rehash, {"witness"},
                                                                {"witness", "key"}, REHASHED),
}


def _detecting_modes(store: Store, log: Log, modes: tuple[str, ...]) -> dict[str, str]:
    """mode -> the reason verify gives, for each mode in which it fails."""
    found = {}
    with store.read() as conn:
        for mode in modes:
            v = audit.verify(conn, expect=[log.witness] if mode == "witness" else None,
                             key=log.key if mode == "key" else None, check_rows=mode == "rows")
            if not v.ok:
                found[mode] = v.reason
    return found


@pytest.mark.parametrize("keyed", [False, True], ids=["plain", "keyed"])
@pytest.mark.parametrize("name", list(CASES))
def test_each_tamper_case_is_detected_by_exactly_the_documented_modes(
        env: Env, monkeypatch: pytest.MonkeyPatch, name: str, keyed: bool) -> None:
    # Given a log written by publisher, intact in every mode
    log = _seed(env, monkeypatch, keyed)
    store = env.store()
    modes = KEYED if keyed else PLAIN
    assert _detecting_modes(store, log, modes) == {}
    # When someone with write access to the database tampers with it
    case = CASES[name]
    with store.engine.begin() as conn:
        case.tamper(conn, log)
    if case.then is not None:
        if log.key_path:
            monkeypatch.setenv(audit.KEY_FILE_ENV, log.key_path)
        case.then(store, log)
        monkeypatch.delenv(audit.KEY_FILE_ENV, raising=False)
    # Then exactly the documented modes detect it (and the others are blind to it, as documented), saying what
    found = _detecting_modes(store, log, modes)
    assert set(found) == (case.keyed if keyed else case.plain), found
    for mode, reason in found.items():
        assert case.says[mode] in reason, (mode, reason)
    if case.names is not None:
        assert case.names(log) in found["rows"]


def test_every_listed_case_but_a_repointed_forgery_is_caught_without_a_key_and_every_one_with_it() -> None:
    """The counts docs/audit.md gives."""
    assert [n for n, c in CASES.items() if not c.plain] == ["append a forged event and point its row at it"]
    assert all(c.keyed for c in CASES.values())
    assert (len(CASES), sum(bool(c.plain) for c in CASES.values()), sum("chain" in c.plain for c in CASES.values())) \
        == (18, 17, 4)


@pytest.mark.parametrize("how", ["one statement", "in chunks", "row by row"])
def test_each_row_points_at_its_newest_event(env: Env, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """However the SQLite UPDATE is shaped (``UPDATE ... FROM VALUES`` in chunks of MAX_ROWS, or one row at a time
    before SQLite 3.33); PostgreSQL always runs one statement."""
    if how == "in chunks":
        monkeypatch.setattr(rawsql, "MAX_ROWS", 1)
    if how == "row by row":
        monkeypatch.setattr(rawsql, "MULTI_ROW", False)
    log = _seed(env, monkeypatch, keyed=False)
    store = env.store()
    with store.read() as conn:
        rows = get_deliveries(conn, log.deliveries[:2])
    with store.tx() as conn:  # one transaction moves several deliveries: one anchoring for all of them
        moves = [Transition(rows[i], [State.SCHEDULED], State.QUEUED, "queued") for i in log.deliveries[:2]]
        assert transitions(conn, "test", moves) == [True, True]
    with store.read() as conn:
        for table, column, ids in ((posts, None, log.posts), (deliveries, audit_events.c.delivery_id, log.deliveries)):
            for row_id in ids:
                cond = (column == row_id if column is not None
                        else (audit_events.c.post_id == row_id) & audit_events.c.delivery_id.is_(None))
                newest = conn.execute(select(func.max(audit_events.c.seq)).where(cond)).scalar_one()
                assert conn.execute(select(table.c.audit_seq).where(table.c.id == row_id)).scalar_one() == newest
        assert audit.verify(conn).ok
