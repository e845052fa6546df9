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
    _seed(env)
    store = env.store()
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq=2"))
    with store.read() as conn:
        v = audit.verify(conn)
    assert not v.ok and v.first_bad_seq == 2 and "missing" in v.reason


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
        assert audit.verify(conn).ok
        rows = conn.execute(select(audit_events).order_by(audit_events.c.seq)).mappings().all()
    prev = audit.GENESIS
    for r in rows:
        fields = audit._event_fields(r["seq"], r["at"], r["actor"], r["action"], r["post_id"], r["delivery_id"],
                                     r["account"], r["details"])
        assert r["prev_hash"] == prev and r["hash"] == audit._digest(prev, fields)
        prev = r["hash"]
    assert len(rows) == 200
