"""The audit chain detects an edited, a deleted and a reordered row, and names the first broken link."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from publisher import audit
from tests.conftest import Env

pytestmark = pytest.mark.slow  # CLI processes


def _seed(env: Env) -> None:
    for i in range(3):
        assert env.cli("post", "--account", "noc", "--at", "+1d", f"post {i}").returncode == 0


def test_intact_log_verifies(env: Env) -> None:
    _seed(env)
    r = env.cli("audit", "verify")
    assert r.returncode == 0 and "intact" in r.stdout


def test_edited_row_is_detected(env: Env) -> None:
    _seed(env)
    store = env.store()
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor='someone-else' WHERE seq=3"))
    with store.read() as conn:
        v = audit.verify(conn)
    assert not v.ok and v.first_bad_seq == 3 and "edited" in v.reason
    r = env.cli("audit", "verify")
    assert r.returncode == 1 and "event 3" in r.stderr


def test_deleted_row_is_detected(env: Env) -> None:
    """Which stream seq 2 is in, and what follows it there, depends on the store (SQLite: one stream; PostgreSQL:
    whichever heads were free), so the place the gap is reported at is read from the table before the deletion."""
    _seed(env)
    store = env.store()
    with store.engine.begin() as conn:
        stream = conn.execute(text("SELECT stream FROM audit_events WHERE seq=2")).scalar()
        after, place = conn.execute(text("SELECT seq, stream_seq FROM audit_events WHERE stream=:s AND seq>2 "
                                         "ORDER BY seq LIMIT 1"), {"s": stream}).one_or_none() or (None, None)
        conn.execute(text("DELETE FROM audit_events WHERE seq=2"))
    with store.read() as conn:
        v = audit.verify(conn)
    # at seq 2 when nothing of its stream follows (a cut tail) or global and stream numbers agree; else where it goes on
    assert not v.ok and v.first_bad_seq == (2 if after is None or after == place else after) and "missing" in v.reason


def test_reordered_rows_are_detected(env: Env) -> None:
    _seed(env)
    store = env.store()
    with store.engine.begin() as conn:  # swap the content of events 2 and 3, keeping their seq numbers
        rows = {r.seq: r for r in conn.execute(text("SELECT * FROM audit_events WHERE seq IN (2,3)"))}
        for seq, other in ((2, 3), (3, 2)):
            o = rows[other]
            conn.execute(text("UPDATE audit_events SET action=:a, details=:d, post_id=:p, delivery_id=:dl, prev_hash=:ph, hash=:h WHERE seq=:s"),
                         {"a": o.action, "d": o.details, "p": o.post_id, "dl": o.delivery_id, "ph": o.prev_hash, "h": o.hash, "s": seq})
    with store.read() as conn:
        v = audit.verify(conn)
    assert not v.ok and v.first_bad_seq == 2


def test_every_event_names_the_os_user_and_export_is_jsonl(env: Env) -> None:
    import json

    env.env["PUBLISHER_ACTOR"] = "oncall-ops"
    _seed(env)
    r = env.cli("audit", "export", "--format", "jsonl")
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events and all(e["actor"] == "oncall-ops" for e in events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_events_rendered_before_the_transaction_chain_exactly_as_the_reference_canonical_form(env: Env) -> None:
    """``audit.pending`` renders an event outside the write lock and leaves only ``at`` and ``seq`` to the
    transaction; the hash must be the one the reference form (``_event_fields`` + ``_canonical``) gives, for any
    text: quotes, backslashes, control characters, emoji, None."""
    import random

    from sqlalchemy import select

    from publisher.schema import audit_events

    rng = random.Random(7)
    alphabet = ['"', "\\", "\n", "\x01", "ü", "🚀", "a", " ", "}", ":", ","]

    def word() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))

    events = [audit.Event(word() or "x", post_id=rng.choice([None, word()]), delivery_id=rng.choice([None, word()]),
                          account=rng.choice([None, word()]), details={word(): [word(), None, 1.5], "n": rng.random()})
              for _ in range(200)]
    store = env.store()
    with store.tx() as conn:
        audit.append_pending(conn, [audit.pending(f'w"{i}', ev) for i, ev in enumerate(events)])
    with store.read() as conn:
        v = audit.verify(conn)  # the chain holds; the events are about posts and deliveries that were never stored
        assert v.first_bad_seq is None and v.checked == 200 and all("does not exist" in p for p in v.problems)
        rows = conn.execute(select(audit_events).order_by(audit_events.c.stream, audit_events.c.stream_seq)).mappings().all()
    prev, stream = audit.GENESIS, None
    for r in rows:  # one transaction: one stream (stream 0 on SQLite, where seq is the place in it)
        assert stream in (None, r["stream"])
        stream = r["stream"]
        fields = audit._event_fields(r["seq"], r["at"], r["actor"], r["action"], r["post_id"], r["delivery_id"],
                                     r["account"], r["details"], r["stream"], r["stream_seq"])
        assert r["prev_hash"] == prev and r["hash"] == audit._digest(prev, fields)
        prev = r["hash"]
    assert len(rows) == 200



def test_rows_written_before_audit_seq_and_digests_existed_are_counted_not_failed(env: Env) -> None:
    """A store upgraded from before migration 0003: its old rows have no audit_seq and their events no digest.
    Verify passes and counts what it could not check, instead of failing every old log; rows written since must
    have both (see test_audit_tamper)."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from publisher.schema import posts

    store = env.store()
    now = datetime.now(UTC)
    with store.tx() as conn:  # a post as the old code stored it: its event carries no content digest ...
        conn.execute(posts.insert().values(id="p-old", kind="note", text="old", variables={}, scheduled_at=now,
                                           overrides=[], created_by="old-code", created_at=now))
        audit.record(conn, "old-code", "post.accepted", post_id="p-old")
    with store.engine.begin() as conn:  # ... and had no audit_seq to set
        conn.execute(update(posts).where(posts.c.id == "p-old").values(audit_seq=None))
    _seed(env)  # then the upgraded code writes
    with store.read() as conn:
        v = audit.verify(conn)
    assert v.ok, v.problems
    assert (v.rows, v.unanchored, v.undigested) == (7, 1, 1)
