"""Batched messages and batched transitions: under load one broker message carries several delivery ids and one
transaction moves many deliveries. Each delivery must still move only from the state it was read in, be audited
once, and be sent once; these tests drive the real store (SQLite or PostgreSQL) and the real publisher."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select, update

from publisher import audit, rawsql, service
from publisher.channels.dryrun import ledger_rows
from publisher.models import State
from publisher.publishing import Publisher
from publisher.scheduling import Scheduler
from publisher.schema import audit_events, deliveries
from publisher.store import Store, Transition, get_deliveries, transitions
from tests.conftest import Env
from tests.helpers import states


def _accept(env: Env, n: int, at: datetime | None = None) -> list[str]:
    settings, store = env.settings(), env.store()
    ids = []
    for i in range(n):
        result = service.accept(settings, store, service.NewPost(text=f"batch {i}", accounts=["noc"],
                                                                 at=at or datetime.now(UTC)))
        ids.extend(d["id"] for d in result.deliveries)
    return ids


def _queue(env: Env, ids: list[str]) -> None:
    with env.store().tx() as conn:
        conn.execute(update(deliveries).where(deliveries.c.id.in_(ids)).values(state=State.QUEUED.value))


@pytest.mark.parametrize("returning", [True, False], ids=["returning", "savepoint"])
def test_batched_transitions_move_only_what_is_still_in_its_state_and_audit_each_once(
        env: Env, returning: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """With UPDATE ... RETURNING, and without it (SQLite before 3.35: a savepoint, then one by one)."""
    if not returning:
        monkeypatch.setattr(rawsql, "RETURNING", {True: False, False: False})
    ids = _accept(env, 6)
    store = env.store()
    with store.tx() as conn:  # one of them was cancelled meanwhile: its move must not apply
        conn.execute(update(deliveries).where(deliveries.c.id == ids[3]).values(state=State.CANCELLED.value))
    with store.read() as conn:
        rows = get_deliveries(conn, ids)
    stale = {**rows[ids[3]], "state": State.SCHEDULED.value}  # as read before the cancel
    moves = [Transition(stale if i == ids[3] else rows[i], [State.SCHEDULED], State.QUEUED, "queued",
                        values={"enqueued_at": datetime.now(UTC)}) for i in ids]
    with store.tx() as conn:
        moved = transitions(conn, "test", moves)
    assert moved == [True, True, True, False, True, True]
    assert states(store) == Counter({"queued": 5, "cancelled": 1})
    with store.read() as conn:
        queued = Counter(r[0] for r in conn.execute(select(audit_events.c.delivery_id)
                                                      .where(audit_events.c.action == "queued")))
        assert queued == Counter({i: 1 for i in ids if i != ids[3]})
        assert audit.verify(conn).ok


def test_batched_transitions_of_one_shape_all_apply_in_one_statement_and_keep_their_own_values(env: Env) -> None:
    ids = _accept(env, 4)
    store = env.store()
    with store.read() as conn:
        rows = get_deliveries(conn, ids)
    moves = [Transition(rows[i], [State.SCHEDULED], State.QUEUED, "queued", values={"message_id": f"m-{k}"})
             for k, i in enumerate(ids)]
    with _statements(store) as seen, store.tx() as conn:
        assert transitions(conn, "test", moves) == [True] * 4
        assert transitions(conn, "test", moves) == [False] * 4  # no longer scheduled: none moves twice
    with store.read() as conn:
        after = get_deliveries(conn, ids)
        assert audit.verify(conn).ok
        assert sum(r[0] == "queued" for r in conn.execute(select(audit_events.c.action))) == 4  # once each
    assert [after[i]["message_id"] for i in ids] == ["m-0", "m-1", "m-2", "m-3"]
    if seen is not None:
        # SQLite: each batch of four is one UPDATE that returns the ids it moved (no savepoint, no row-by-row
        # retry), and the transaction's audit events are one INSERT after reading its stream's head and the global
        # seq, then one UPDATE that points each delivery at its newest event (audit_seq: a cut tail leaves rows
        # pointing past it) and one that moves the stream's head (docs/audit.md, streams and seals)
        words = [s.split()[0] for s in seen]
        assert words == ["BEGIN", "UPDATE", "UPDATE", "SELECT", "SELECT", "INSERT", "UPDATE", "UPDATE", "COMMIT"], seen
        assert seen[6].startswith("UPDATE deliveries SET audit_seq"), seen[6]
        assert seen[7].startswith("UPDATE audit_heads"), seen[7]


def test_batched_results_apply_only_to_their_own_attempt_and_keep_their_own_values(env: Env) -> None:
    """Results of one shape (conditional on the attempt id) as one statement: a delivery another worker released
    and claimed again under a newer attempt is not moved by the old attempt's result; the others take each their
    own receipt, times and audit event (one statement of a shape, or one pipelined executemany on PostgreSQL)."""
    ids = _accept(env, 3)
    _queue(env, ids)
    store = env.store()
    at = datetime.now(UTC).replace(microsecond=0)

    def claim(rows: dict[str, dict[str, object]], attempt: str, *which: str) -> list[bool]:
        with store.tx() as conn:
            return transitions(conn, "test", [Transition(rows[i], [State.QUEUED], State.PUBLISHING, "publishing",
                                                         values={"attempt_id": f"{attempt}-{i}", "lease_until": at})
                                              for i in which])

    with store.read() as conn:
        assert claim(get_deliveries(conn, ids), "a", *ids) == [True] * 3
        claimed = get_deliveries(conn, ids)
    with store.tx() as conn:  # the middle one ran out of its lease: released, then claimed by another attempt
        assert transitions(conn, "test", [Transition(claimed[ids[1]], [State.PUBLISHING], State.QUEUED, "released",
                                                     values={"lease_until": None})]) == [True]
    with store.read() as conn:
        assert claim(get_deliveries(conn, [ids[1]]), "b", ids[1]) == [True]
    results = [Transition(claimed[i], [State.PUBLISHING], State.PUBLISHED, "published", attempt_id=f"a-{i}",
                          values={"remote_id": f"r-{k}", "receipt": {"remote_id": f"r-{k}", "n": k},
                                  "published_at": at + timedelta(seconds=k), "lease_until": None})
               for k, i in enumerate(ids)]
    with store.tx() as conn:
        assert transitions(conn, "test", results) == [True, False, True]
    with store.read() as conn:
        after = get_deliveries(conn, ids)
        v = audit.verify(conn)
        published = [r[0] for r in conn.execute(select(audit_events.c.delivery_id)
                                                .where(audit_events.c.action == "published").order_by(audit_events.c.seq))]
    assert v.ok, v.problems
    assert [after[i]["state"] for i in ids] == ["published", "publishing", "published"]
    assert after[ids[1]]["attempt_id"] == f"b-{ids[1]}" and after[ids[1]]["remote_id"] is None
    assert [(after[i]["remote_id"], after[i]["receipt"], after[i]["published_at"]) for i in (ids[0], ids[2])] == [
        ("r-0", {"remote_id": "r-0", "n": 0}, at), ("r-2", {"remote_id": "r-2", "n": 2}, at + timedelta(seconds=2))]
    assert sorted(published) == sorted([ids[0], ids[2]])


@contextmanager
def _statements(store: Store) -> Iterator[list[str] | None]:
    """The SQL statements SQLite runs meanwhile on the store's connections, from BEGIN to COMMIT (None on
    PostgreSQL, which has no trace hook)."""
    if not store.is_sqlite:
        yield None
        return
    seen: list[str] = []

    def trace(dbapi_conn: sqlite3.Connection, _record: object, _proxy: object) -> None:
        dbapi_conn.set_trace_callback(seen.append)

    event.listen(store.engine, "checkout", trace)
    try:
        yield seen
    finally:
        event.remove(store.engine, "checkout", trace)
        store.engine.dispose()  # the traced connections go: none keeps tracing into this list


def test_the_scheduler_batches_a_burst_but_sends_a_few_due_together_one_per_message(env: Env) -> None:
    env.write_config({"noc": {"channel": "dryrun", "kind": "organisation"}},
                     scheduler={"message_batch": 10, "spread": 4})
    settings, store = env.settings(), env.store()
    now = datetime.now(UTC)
    _accept(env, 3, at=now)
    messages: list[list[str]] = []
    scheduler = Scheduler(settings, store, lambda c, ids, ms: messages.append(list(ids)) or f"m{len(messages)}",
                          lambda items: set())
    assert scheduler.tick() == 3
    assert sorted(len(m) for m in messages) == [1, 1, 1]
    messages.clear()
    _accept(env, 100, at=now + timedelta(milliseconds=500))
    assert scheduler.tick() == 100
    assert sorted(len(m) for m in messages) == [10] * 10  # never more than message_batch, at least spread messages
    assert len({i for m in messages for i in m}) == 100


def test_a_batch_publishes_each_delivery_once_and_a_duplicate_message_is_a_no_op(env: Env) -> None:
    ids = _accept(env, 12)
    _queue(env, ids)
    settings, store = env.settings(), env.store()
    publisher = Publisher(settings, store)
    outcomes = publisher.handle_many(ids)
    assert set(outcomes.values()) == {"published"}
    assert publisher.handle_many(ids) == dict.fromkeys(ids, "duplicate")
    ledger = Counter(r["delivery_id"] for r in ledger_rows(settings.home / "dryrun-ledger.jsonl"))
    assert ledger == Counter(dict.fromkeys(ids, 1))
    with store.read() as conn:
        assert audit.verify(conn).ok


def test_a_batch_that_runs_past_half_its_lease_sends_the_rest_back_unsent(env: Env) -> None:
    env.write_config({"noc": {"channel": "dryrun", "kind": "organisation", "options": {"latency_ms": 400}}},
                     scheduler={"lease_seconds": 1.0})
    ids = _accept(env, 4)
    _queue(env, ids)
    settings, store = env.settings(), env.store()
    resent: list[list[str]] = []
    publisher = Publisher(settings, store, sender=lambda c, d, ms: resent.append(list(d)) or "m-again")
    outcomes = publisher.handle_many(ids)
    published = [i for i in ids if outcomes[i] == "published"]
    released = [i for i in ids if outcomes[i] == "released"]
    assert published == ids[:2] and released == ids[2:], outcomes  # 0.4 s each: the third would start past 0.5 s
    assert resent == [released]
    with store.read() as conn:
        rows = get_deliveries(conn, ids)
    assert all(rows[i]["state"] == "queued" and rows[i]["attempts"] == 0 and rows[i]["message_id"] == "m-again"
               for i in released)
    sent = {r["delivery_id"] for r in ledger_rows(settings.home / "dryrun-ledger.jsonl")}
    assert sent == set(published)


def test_after_a_rate_limit_answer_the_batch_makes_no_more_calls_for_that_account(env: Env) -> None:
    env.write_config({"noc": {"channel": "dryrun", "kind": "organisation", "options": {
        "fail": [{"match": "first", "outcome": "rate_limited", "retry_after": 60}]}}})
    settings, store = env.settings(), env.store()
    ids = [d["id"] for d in service.accept(settings, store, service.NewPost(
        text="first of the burst", accounts=["noc"], at=datetime.now(UTC))).deliveries]
    ids += _accept(env, 4)
    _queue(env, ids)
    outcomes = Publisher(settings, store).handle_many(ids)
    assert outcomes[ids[0]] == "rate_limited" and {outcomes[i] for i in ids[1:]} == {"budget"}
    assert ledger_rows(settings.home / "dryrun-ledger.jsonl") == []  # the platform saw one request, not five
    with store.read() as conn:
        rows = get_deliveries(conn, ids)
    assert {r["state"] for r in rows.values()} == {"retry_wait"}
    assert all(r["attempts"] == 0 for i, r in rows.items() if i != ids[0])
    assert min(r["due_at"] for r in rows.values()) > datetime.now(UTC) + timedelta(seconds=50)


def test_a_message_that_comes_before_its_time_makes_no_call_and_is_sent_again_for_the_exact_time(env: Env) -> None:
    """Clock skew between the scheduler's host and a worker's: the worker sees the delivery not yet due. It must
    not publish, must send a message again delayed to the due time, and must record that message's id so the
    sweeper does not take the delivery's message for lost."""
    due = datetime.now(UTC) + timedelta(seconds=30)
    [delivery_id] = _accept(env, 1, at=due)
    _queue(env, [delivery_id])
    store = env.store()
    with store.tx() as conn:
        conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(message_id="m-consumed"))
    sent: list[tuple[str, list[str], int]] = []
    publisher = Publisher(env.settings(), store, sender=lambda c, ids, ms: sent.append((c, list(ids), ms)) or "m-again")
    assert publisher.handle_many([delivery_id]) == {delivery_id: "early"}
    assert len(sent) == 1 and sent[0][:2] == ("dryrun", [delivery_id])
    assert 25_000 < sent[0][2] <= 30_000  # delayed to the due time
    with store.read() as conn:
        row = get_deliveries(conn, [delivery_id])[delivery_id]
    assert (row["state"], row["message_id"], row["attempts"]) == ("queued", "m-again", 0)
    ledger = env.settings().home / "dryrun-ledger.jsonl"
    assert not ledger.exists() or ledger_rows(ledger) == []  # no call
