"""Tampering with a real store, case by case, and which check catches it (the table in docs/audit.md).

Each case runs on a log written by publisher itself (three posts, one cancelled), in two deployments: plain, and
keyed (PUBLISHER_AUDIT_KEY_FILE set while writing). Then ``verify`` runs in each mode: the chains alone, + rows
(audit_seq and content digests), + a witness of the head (a seal) taken before the tampering, + the key. The
attacker covers their tracks as far as SQL without the key allows: each stream's head row is set to what is left of
the stream, and the chain of seals is recomputed over it (``_cover``). The test asserts the exact set of modes that
detect each case, so the plain chain's blind spots are pinned as documented too.
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
from publisher.schema import audit_events, audit_heads, audit_seals, deliveries, posts
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
    with store.tx() as conn:  # `audit head`: seal, and witness the seal
        log.witness = audit.seal(conn)
    monkeypatch.delenv(audit.KEY_FILE_ENV, raising=False)  # what the attacker runs has no key
    with store.read() as conn:
        for p in log.posts:
            log.first_of[p] = conn.execute(select(audit_events.c.seq).where(
                audit_events.c.post_id == p, audit_events.c.action == "post.accepted")).scalar_one()
    return log


# -- what an attacker with write access to the database (but not the key) can do --


def _event(conn: Connection, seq: int) -> dict[str, object]:
    return dict(conn.execute(select(audit_events).where(audit_events.c.seq == seq)).mappings().one())


def _last_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.max(audit_events.c.seq))).scalar_one())


def _stream_of(conn: Connection, seq: int) -> tuple[int, int]:
    e = _event(conn, seq)
    return int(e["stream"]), int(e["stream_seq"])  # type: ignore[call-overload]


def _at_place(conn: Connection, stream: int, k: int) -> dict[str, object]:
    return dict(conn.execute(select(audit_events).where(audit_events.c.stream == stream,
                                                        audit_events.c.stream_seq == k)).mappings().one())


def _rehash_from(conn: Connection, start: int) -> None:
    """Recompute every hash of event ``start``'s stream from it on: a chain needs no key, so anyone can."""
    stream, k = _stream_of(conn, start)
    prev = audit.GENESIS if k == 1 else str(_at_place(conn, stream, k - 1)["hash"])
    for r in conn.execute(select(audit_events).where(audit_events.c.stream == stream, audit_events.c.stream_seq >= k)
                          .order_by(audit_events.c.stream_seq)).mappings().all():
        digest = audit.event_hash(prev, r)
        conn.execute(update(audit_events).where(audit_events.c.seq == r["seq"]).values(prev_hash=prev, hash=digest))
        prev = digest


def _append_forged(conn: Connection, delivery_id: str) -> int:
    """Append a 'published' event about ``delivery_id`` to the newest event's stream, hashed as publisher hashes."""
    last = _event(conn, _last_seq(conn))
    seq, stream, k, prev = _last_seq(conn) + 1, last["stream"], int(last["stream_seq"]) + 1, str(last["hash"])  # type: ignore[call-overload]
    if last["seq"] == last["stream_seq"] and stream == 0:
        seq = k  # a single-stream log numbers its events by their place
    d = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).mappings().one()
    row = dict(seq=seq, at=datetime.now(UTC), actor="mallory", action="published", post_id=d["post_id"],
               delivery_id=delivery_id, account=d["account"], details=json.dumps({"from": d["state"], "to": "published"}),
               stream=stream, stream_seq=k)
    conn.execute(audit_events.insert().values(**row, prev_hash=prev, hash=audit.event_hash(prev, row)))
    return seq


def _cover(conn: Connection) -> None:
    """What an attacker without the key does next: set each stream's head row to what is left of the stream, and
    recompute the chain of seals over what is left (the seals' HMACs cannot be recomputed: they are kept)."""
    tails = {}
    for h in conn.execute(select(audit_heads)).mappings().all():
        tail = conn.execute(select(audit_events.c.stream_seq, audit_events.c.hash, audit_events.c.seq)
                            .where(audit_events.c.stream == h["stream"])
                            .order_by(audit_events.c.stream_seq.desc()).limit(1)).first()
        tails[h["stream"]] = tail[0] if tail else 0
        conn.execute(update(audit_heads).where(audit_heads.c.stream == h["stream"])
                     .values(stream_seq=tail[0] if tail else 0, hash=tail[1] if tail else audit.GENESIS,
                             seq=tail[2] if tail else 0))
    prev = audit.GENESIS
    for sl in conn.execute(select(audit_seals).order_by(audit_seals.c.seq)).mappings().all():
        heads = []
        for stream, k, _h in json.loads(sl["heads"]):
            k = min(k, tails.get(stream, 0))
            if k:
                heads.append([stream, k, str(_at_place(conn, stream, k)["hash"])])
        text, root = audit._canonical(heads), audit.merkle_root(heads)
        digest = audit.seal_hash(prev, sl["seq"], sl["at"], text, root)
        conn.execute(update(audit_seals).where(audit_seals.c.seq == sl["seq"])
                     .values(heads=text, root=root, prev_hash=prev, hash=digest))
        prev = digest


def edit_field(conn: Connection, log: Log) -> None:
    conn.execute(update(audit_events).where(audit_events.c.seq == log.first_of[log.posts[1]]).values(actor="mallory"))


def swap(conn: Connection, log: Log) -> None:
    """Post 2's first event and the next one in its stream trade places (their content moves, their places stay)."""
    ea = _event(conn, log.first_of[log.posts[1]])
    eb = _at_place(conn, ea["stream"], ea["stream_seq"] + 1)  # type: ignore[arg-type, operator]
    for seq, other in ((ea["seq"], eb), (eb["seq"], ea)):
        conn.execute(update(audit_events).where(audit_events.c.seq == seq)
                     .values({k: v for k, v in other.items() if k not in ("seq", "stream", "stream_seq")}))


def delete_middle(conn: Connection, log: Log) -> None:
    conn.execute(delete(audit_events).where(audit_events.c.seq == log.first_of[log.posts[1]]))


def insert_middle(conn: Connection, log: Log) -> None:
    """Make room in its stream before post 2's first event and put a correctly hashed forged event there."""
    first = _event(conn, log.first_of[log.posts[1]])
    stream, k = int(first["stream"]), int(first["stream_seq"])  # type: ignore[call-overload]
    single = stream == 0 and first["seq"] == k  # a single-stream log: seq is the place, and moves with it
    later = conn.execute(select(audit_events.c.seq, audit_events.c.stream_seq).where(
        audit_events.c.stream == stream, audit_events.c.stream_seq >= k)
        .order_by(audit_events.c.stream_seq.desc())).all()
    for seq, place in later:
        conn.execute(update(audit_events).where(audit_events.c.seq == seq)
                     .values(stream_seq=place + 1, **({"seq": seq + 1} if single else {})))
    row = dict(seq=k if single else _last_seq(conn) + 1, at=datetime.now(UTC), actor="mallory", action="note",
               post_id=None, delivery_id=None, account=None, details="{}", stream=stream, stream_seq=k)
    prev = str(_at_place(conn, stream, k - 1)["hash"])
    conn.execute(audit_events.insert().values(**row, prev_hash=prev, hash=audit.event_hash(prev, row)))


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
CUT = {"rows": "has no audit event", "witness": "cut or rewritten", "key": "does not match the key"}
REHASHED = {"witness": "cut or rewritten", "key": "does not match the key"}
CONTENT = {"rows": "no longer matches the content digest"}
CASES = {
    "edit a field": Case(edit_field, ALL, ALL_KEYED, CHAIN),
    "swap two events": Case(swap, ALL, ALL_KEYED, dict.fromkeys(KEYED, "does not chain from")),
    "delete an event in the middle": Case(delete_middle, ALL, ALL_KEYED, dict.fromkeys(KEYED, "is missing")),
    "insert a forged event in the middle": Case(insert_middle, ALL, ALL_KEYED, dict.fromkeys(KEYED, "does not chain from")),
    # plain: the last event is about a delivery, which now points past the end; keyed: it is the seal
    "delete the last event": Case(delete_last, {"rows", "witness"}, {"witness", "key"},
                                  {"rows": "past the log's end", "witness": "cut or rewritten",
                                   "key": "after the last seal"}),
    # keyed: cut at a transaction's end, each stream still ends with a valid seal event, but the seals that covered
    # the cut events had to be recomputed, without the key
    "truncate the tail": Case(truncate_tail, {"rows", "witness"}, {"rows", "witness", "key"}, CUT),
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
                                                            {"rows", "witness", "key"},
                                                            {"rows": "has no audit_seq", "witness": "cut or rewritten",
                                                             "key": "does not match the key"},
                                                            lambda log: f"delivery {log.deliveries[2]}"),
    "insert a post row": Case(insert_forged_post, {"rows"}, {"rows"}, {"rows": "inserted outside publisher"},
                              lambda log: "post p-forged"),
    "insert a delivery row that publisher then queues": Case(
        insert_due_delivery, {"rows"}, {"rows"}, {"rows": "has no content digest, though it was first audited"},
        lambda log: "delivery d-forged", then=scheduler_claims),
    "truncate the tail and delete its rows": Case(truncate_and_delete_rows, {"witness"}, {"witness", "key"}, CUT),
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
        _cover(conn)
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
