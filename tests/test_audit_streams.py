"""The audit log as several hash chains (streams) and a chain of seals over their heads (docs/audit.md).

On a real store: a log written into several streams, sealed, then tampered with inside one stream, in the seals or
in a stream's head row; ``verify`` names what was done. On PostgreSQL, two writers append to different streams at
the same time (no global lock). And a store built at migration 0003, with a log written by the code of then, is
upgraded and verifies, old witness included, and so do the events written after it.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, delete, select, text, update

from publisher import audit
from publisher.schema import audit_events, audit_heads, audit_seals
from publisher.store import SCHEMA_HEAD, Store
from tests.conftest import Env

STREAMS = (0, 3, 5)


def _write_in(store: Store, stream: int, n: int, account: str) -> None:
    """Append ``n`` events to ``stream`` in one transaction: what a PostgreSQL writer does once it has locked that
    stream's head (SQLite's single writer uses stream 0; here the stream is given, to build a log of several)."""
    with store.tx() as conn:
        row = conn.execute(select(audit_heads).where(audit_heads.c.stream == stream)).mappings().one()
        conn.info[audit.HEAD_KEY] = (stream, row["stream_seq"], row["hash"])
        audit.append(conn, "writer", [audit.Event("note", account=account, details={"i": i}) for i in range(n)])


def _log(store: Store) -> tuple[int, str]:
    """Three streams of three transactions each (interleaved), then a seal: the witness."""
    for round_ in range(3):
        for stream in STREAMS:
            _write_in(store, stream, 2, f"acct-{stream}-{round_}")
    with store.tx() as conn:
        return audit.seal(conn)


def _place(conn: Connection, stream: int, k: int) -> dict[str, object]:
    return dict(conn.execute(select(audit_events).where(audit_events.c.stream == stream,
                                                        audit_events.c.stream_seq == k)).mappings().one())


def _verify(store: Store, witness: tuple[int, str] | None = None) -> audit.Verification:
    with store.read() as conn:
        return audit.verify(conn, expect=[witness] if witness else None, check_rows=False)


def test_a_log_of_several_streams_and_its_seals_verifies_and_exports_as_one_ordered_stream(env: Env) -> None:
    store = env.store()
    witness = _log(store)
    v = _verify(store, witness)
    assert v.ok, v.problems
    assert v.checked == 18 and v.head == witness
    with store.read() as conn:
        heads = json.loads(conn.execute(select(audit_seals.c.heads)).scalar_one())
        lines = [json.loads(line) for line in audit.export_jsonl(conn)]
    assert [h[:2] for h in heads] == [[s, 6] for s in STREAMS]
    assert len(lines) == 18
    keys = [(e["at"], e["stream"], e["stream_seq"]) for e in lines]
    assert keys == sorted(keys)  # one stream, by time, then stream, then place
    for s in STREAMS:  # ... in which each stream keeps its own order
        assert [e["stream_seq"] for e in lines if e["stream"] == s] == list(range(1, 7))
    with store.tx() as conn:  # nothing moved: no new seal
        assert audit.seal(conn) == witness


def _edit_in_stream(conn: Connection) -> None:
    conn.execute(update(audit_events).where(audit_events.c.seq == _place(conn, 3, 2)["seq"]).values(actor="mallory"))


def _delete_in_stream(conn: Connection) -> None:
    conn.execute(delete(audit_events).where(audit_events.c.seq == _place(conn, 3, 2)["seq"]))


def _swap_in_stream(conn: Connection) -> None:
    a, b = _place(conn, 3, 2), _place(conn, 3, 3)
    for seq, other in ((a["seq"], b), (b["seq"], a)):
        conn.execute(update(audit_events).where(audit_events.c.seq == seq)
                     .values({k: v for k, v in other.items() if k not in ("seq", "stream", "stream_seq")}))


def _move_to_another_stream(conn: Connection) -> None:
    """The last event of stream 3 is moved to the end of stream 5, its chain link rewritten to fit there."""
    moved, tail = _place(conn, 3, 6), _place(conn, 5, 6)
    conn.execute(update(audit_events).where(audit_events.c.seq == moved["seq"])
                 .values(stream=5, stream_seq=7, prev_hash=tail["hash"]))


def _edit_seal(conn: Connection) -> None:
    heads = json.loads(conn.execute(select(audit_seals.c.heads)).scalar_one())
    heads[1][1] -= 1
    conn.execute(update(audit_seals).values(heads=json.dumps(heads, separators=(",", ":"))))


def _rewind_stream(conn: Connection) -> None:
    """Cut stream 3's last transaction off and set its head row back to match: the stream alone looks intact."""
    keep = _place(conn, 3, 4)
    conn.execute(delete(audit_events).where(audit_events.c.stream == 3, audit_events.c.stream_seq > 4))
    conn.execute(update(audit_heads).where(audit_heads.c.stream == 3).values(stream_seq=4, hash=keep["hash"],
                                                                             seq=keep["seq"]))


def _rewind_stream_and_reseal(conn: Connection) -> None:
    """... and recompute the seal over the rewound head (no key needed for the hash; its HMAC stays behind)."""
    _rewind_stream(conn)
    sl = conn.execute(select(audit_seals)).mappings().one()
    heads = json.loads(sl["heads"])
    heads[1] = [3, 4, str(_place(conn, 3, 4)["hash"])]
    body, root = audit._canonical(heads), audit.merkle_root(heads)
    conn.execute(update(audit_seals).values(heads=body, root=root,
                                            hash=audit.seal_hash(audit.GENESIS, 1, sl["at"], body, root)))


def _cut_stream_head_row_kept(conn: Connection) -> None:
    conn.execute(delete(audit_events).where(audit_events.c.stream == 5, audit_events.c.stream_seq > 4))


def _delete_seal(conn: Connection) -> None:
    conn.execute(delete(audit_seals))


CASES = {
    # inside one stream: the stream's chain breaks, and verify names the event by its stream and place
    "edit an event in a stream": (_edit_in_stream, False, "#2 of stream 3) was edited"),
    "delete an event in a stream": (_delete_in_stream, False, "#2 of stream 3 is missing"),
    "reorder two events in a stream": (_swap_in_stream, False, "#2 of stream 3) does not chain from"),
    "move an event to another stream": (_move_to_another_stream, False, "event #6 of stream 3 is missing"),
    # the seals and the head rows
    "edit a seal": (_edit_seal, False, "seal 1 was edited"),
    "cut a stream and rewind its head row": (_rewind_stream, False, "#6 of stream 3, sealed by seal 1, is missing"),
    "cut a stream, keep its head row": (_cut_stream_head_row_kept, False, "#5 of stream 5 is missing, and every later "
                                                                          "event of stream 5 up to its head"),
    # recomputed seals and deleted seals: only a witness (or the key) sees them
    "cut a stream, rewind its head and recompute the seal": (_rewind_stream_and_reseal, True, "seal 1 has hash"),
    "delete the seals": (_delete_seal, True, "or the seals were deleted"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_tampering_with_a_stream_or_the_seals_is_detected(env: Env, name: str) -> None:
    store = env.store()
    witness = _log(store)
    tamper, witness_only, says = CASES[name]
    with store.engine.begin() as conn:
        tamper(conn)
    without = _verify(store)
    assert without.ok is witness_only, without.reason
    v = _verify(store, witness)
    assert not v.ok and says in v.reason, v.reason


def test_keyed_seals_catch_a_recomputed_seal_without_a_witness(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    path = env.home / "audit.key"
    path.write_bytes(b"k" * 32)
    path.chmod(0o600)
    monkeypatch.setenv(audit.KEY_FILE_ENV, str(path))
    key = audit.audit_key()
    store = env.store()
    _log(store)
    with store.read() as conn:
        assert audit.verify(conn, key=key, check_rows=False).ok
        assert conn.execute(select(audit_seals.c.mac)).scalar_one()
    with store.engine.begin() as conn:
        _rewind_stream_and_reseal(conn)
    with store.read() as conn:
        v = audit.verify(conn, key=key, check_rows=False)
    assert not v.ok and any("seal 1 does not match the key" in p for p in v.problems), v.problems


def test_writers_on_postgresql_append_to_different_streams_at_the_same_time(env: Env) -> None:
    """A transaction holding a stream head until COMMIT does not stop another one: no global lock."""
    if "PUBLISHER_DATABASE_URL" not in env.env:
        pytest.skip("PostgreSQL only: SQLite runs one write transaction at a time by design")
    store = env.store()
    flushed, release = threading.Event(), threading.Event()

    def slow() -> None:
        with store.tx() as conn:
            audit.record(conn, "slow", "note", account="a")
            audit.flush(conn)  # its stream head is locked from here to COMMIT
            flushed.set()
            assert release.wait(30)

    t = threading.Thread(target=slow)
    t.start()
    try:
        assert flushed.wait(30)
        done = threading.Event()

        def fast() -> None:
            with store.tx() as conn:
                audit.record(conn, "fast", "note", account="b")
            done.set()

        f = threading.Thread(target=fast)
        f.start()
        assert done.wait(10), "the second writer waited for the first one's COMMIT"
        f.join()
    finally:
        release.set()
        t.join()
    with store.read() as conn:
        streams = {r[0]: r[1] for r in conn.execute(select(audit_events.c.actor, audit_events.c.stream))}
    assert streams["slow"] != streams["fast"]
    assert _verify(store).ok


def test_a_store_written_at_migration_0003_upgrades_and_verifies_old_witness_included(env: Env) -> None:
    from publisher.migrations import upgrade

    settings = env.settings()
    old = Store(settings.database_url, migrate=False)
    upgrade(old.engine, "0003")
    prev, at = audit.GENESIS, datetime.now(UTC) - timedelta(days=1)
    with old.engine.begin() as conn:  # the log as the code of 0003 wrote it: one chain, hash over the old fields
        for seq in range(1, 6):
            fields = audit._event_fields(seq, at, "old-code", "note", None, None, None, "{}")
            digest = audit._digest(prev, fields)
            conn.execute(text("INSERT INTO audit_events (seq, at, actor, action, details, prev_hash, hash) "
                              "VALUES (:s, :at, 'old-code', 'note', '{}', :p, :h)"),
                         {"s": seq, "at": at.replace(tzinfo=None), "p": prev, "h": digest})
            prev = digest
    old.dispose()
    old_witness = (5, prev)
    store = Store(settings.database_url)  # upgrades through 0008 to head
    assert store.current_revision() == SCHEMA_HEAD
    v = _verify(store, old_witness)
    assert v.ok and v.checked == 5, v.problems  # the old chain is stream 0's history, hashed as before
    with store.read() as conn:
        assert conn.execute(select(audit_heads.c.stream_seq, audit_heads.c.hash)
                            .where(audit_heads.c.stream == 0)).one() == (5, prev)
    with store.tx() as conn:  # the new code appends, and seals
        audit.record(conn, "new-code", "note", account="a")
    with store.tx() as conn:
        witness = audit.seal(conn)
    v = _verify(store, witness)
    assert v.ok and v.checked == 6, v.problems
    v = _verify(store, old_witness)
    assert v.ok, v.problems
    with store.engine.begin() as conn:  # and the old part is still protected
        conn.execute(update(audit_events).where(audit_events.c.seq == 2).values(actor="mallory"))
    v = _verify(store)
    assert not v.ok and v.first_bad_seq == 2 and "event 2 was edited" in v.reason


def _deliveries(store: Store, n: int) -> list[dict[str, object]]:
    """``n`` scheduled deliveries (one post each), audited as accepting them would."""
    from publisher.schema import deliveries, posts
    from publisher.store import get_deliveries, new_id

    now = datetime.now(UTC)
    ids = []
    with store.tx() as conn:
        for _ in range(n):
            pid, did = new_id("p"), new_id("d")
            conn.execute(posts.insert(), [dict(id=pid, kind="note", text="t", variables={}, scheduled_at=now,
                                               overrides=[], created_by="test", created_at=now)])
            conn.execute(deliveries.insert(), [dict(id=did, post_id=pid, account="a", channel="dryrun", part=1,
                                                    payload={"text": "t"}, state="scheduled", attempts=0, due_at=now,
                                                    updated_at=now)])
            audit.append(conn, "test", [audit.Event("accepted", post_id=pid),
                                        audit.Event("scheduled", post_id=pid, delivery_id=did, account="a")])
            ids.append(did)
    with store.read() as conn:
        rows = get_deliveries(conn, ids)
    return [rows[i] for i in ids]


def test_a_state_change_on_postgresql_anchors_its_own_row_and_the_rows_check_holds(env: Env) -> None:
    """On PostgreSQL a transition's UPDATE takes its event's seq (the anchor in the same row version); an event
    appended before a transition of the same transaction makes the flush number and anchor everything itself; two
    transactions changing one row one after the other keep its events in seq order. ``verify`` with the rows check
    passes in every case."""
    if "PUBLISHER_DATABASE_URL" not in env.env:
        pytest.skip("PostgreSQL only: SQLite numbers every event when it is flushed")
    from publisher.models import State
    from publisher.schema import deliveries
    from publisher.store import Transition, transitions

    store = env.store()
    a, b, c, d = _deliveries(store, 4)
    with store.tx() as conn:  # the hot path: the seqs the UPDATEs took are the events'
        assert transitions(conn, "t", [Transition(a, [State.SCHEDULED], State.QUEUED, "queued"),
                                       Transition(b, [State.SCHEDULED], State.QUEUED, "queued")]) == [True, True]
    with store.tx() as conn:  # an event about c before c's transition: numbered again at the flush, in order
        audit.record(conn, "t", "note", delivery_id=c["id"], post_id=c["post_id"], account="a")
        assert transitions(conn, "t", [Transition(c, [State.SCHEDULED], State.QUEUED, "queued")]) == [True]
    first, second = threading.Event(), threading.Event()

    def one() -> None:  # holds d's row until the other one has started its UPDATE of it
        with store.tx() as conn:
            assert transitions(conn, "one", [Transition(d, [State.SCHEDULED], State.QUEUED, "queued")]) == [True]
            first.set()
            assert second.wait(10)
            time.sleep(0.3)  # the other UPDATE is waiting on the row by now

    t = threading.Thread(target=one)
    t.start()
    assert first.wait(10)
    with store.tx() as conn:  # waits for one's COMMIT; its seq is taken after it
        second.set()
        assert transitions(conn, "two", [Transition(d, [State.SCHEDULED, State.QUEUED], State.HELD, "held")]) == [True]
    t.join()
    with store.read() as conn:
        anchors = dict(conn.execute(select(deliveries.c.id, deliveries.c.audit_seq)).all())
        events = conn.execute(select(audit_events.c.delivery_id, audit_events.c.action, audit_events.c.seq)
                              .where(audit_events.c.delivery_id.is_not(None)).order_by(audit_events.c.seq)).all()
    newest = {i: s for i, _, s in events}
    assert anchors == newest
    assert [x for i, x, _ in events if i == d["id"]] == ["scheduled", "queued", "held"]
    assert [x for i, x, _ in events if i == c["id"]] == ["scheduled", "note", "queued"]
    with store.read() as conn:
        v = audit.verify(conn)
    assert v.ok, v.problems
