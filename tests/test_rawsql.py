"""The hot path's driver-level SQL (publisher.rawsql) must write and read exactly what SQLAlchemy's column types do,
on SQLite and on PostgreSQL: a row written by one reads back equal through the other, for every column type
(aware datetimes, JSON including JSON null, text, integers, SQL NULL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from publisher import audit, rawsql
from publisher.models import State
from publisher.schema import audit_events, deliveries, posts
from publisher.store import (
    Transition,
    deliveries_of_posts,
    get_deliveries,
    get_delivery,
    transitions,
    with_siblings,
)
from tests.conftest import Env

AT = datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC)


def _post(pid: str) -> dict[str, object]:
    return dict(id=pid, kind="note", text="grüße 🚀", link=None, language="de", variables={"a": [1, "ß"]},
                scheduled_at=AT, not_after=None, thread_key=None, thread_seq=None, idem_scope=None, idem_key=None,
                overrides=[], created_by="test", created_at=AT)


def _delivery(did: str, pid: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = dict(id=did, post_id=pid, account="noc", channel="dryrun", part=1,
                                  payload={"text": "grüße 🚀", "reply": None, "n": 1.5}, state="queued", attempts=0,
                                  due_at=AT, not_after=AT + timedelta(days=1), prev_id=None, thread_key=None,
                                  lease_until=None, attempt_id=None, message_id=None, enqueued_at=None,
                                  remote_id=None, remote_url=None, receipt=None, last_error=None, published_at=None,
                                  updated_at=AT, tone_key=None)
    row.update(kw)
    return row


def test_rows_written_by_sqlalchemy_read_back_equal_through_the_driver(env: Env) -> None:
    store = env.store()
    with store.tx() as conn:
        conn.execute(posts.insert(), [_post("p-1")])
        conn.execute(deliveries.insert(), [_delivery("d-1", "p-1", receipt={"root": "x"}),
                                           _delivery("d-2", "p-1", part=2, lease_until=AT.replace(microsecond=0))])
    with store.read() as conn:
        orm = [dict(r) for r in conn.execute(select(deliveries).order_by(deliveries.c.id)).mappings()]
        raw = rawsql.select_where_in(conn, deliveries, "id", ["d-1", "d-2", "d-missing"], order_by="id")
        raw_post = rawsql.select_where_in(conn, posts, "id", ["p-1"])
        orm_post = [dict(r) for r in conn.execute(select(posts)).mappings()]
    assert raw == orm
    assert raw_post == orm_post
    assert raw[0]["due_at"] == AT and raw[0]["due_at"].tzinfo is UTC
    assert raw[1]["receipt"] is None and raw[0]["receipt"] == {"root": "x"}


def test_a_message_s_deliveries_and_their_siblings_read_in_one_statement_equal_the_two_reads(env: Env) -> None:
    """A worker reads a message's deliveries and every delivery of their posts at once: the same rows, by id and by
    post in the order ``deliveries_of_posts`` gives, as the two reads; an id twice counts once, a missing id is
    absent, a post none of the ids names is not read."""
    store = env.store()
    with store.tx() as conn:
        conn.execute(posts.insert(), [_post("p-1"), _post("p-2"), _post("p-3")])
        conn.execute(deliveries.insert(), [_delivery("d-1b", "p-1", account="zz", part=1),
                                           _delivery("d-1a", "p-1", account="aa", part=2),
                                           _delivery("d-1c", "p-1", account="aa", part=1),
                                           _delivery("d-2", "p-2"), _delivery("d-3", "p-3")])
    ids = ["d-1b", "d-2", "d-missing", "d-1b", "d-1a"]  # two of p-1's: its deliveries once
    with store.read() as conn:
        rows, family = with_siblings(conn, ids)
        assert rows == get_deliveries(conn, ids)
        assert family == deliveries_of_posts(conn, ["p-1", "p-2"])
        assert with_siblings(conn, []) == ({}, {})
    assert set(rows) == {"d-1b", "d-2", "d-1a"}
    assert [d["id"] for d in family["p-1"]] == ["d-1c", "d-1a", "d-1b"]


def test_transitions_written_through_the_driver_read_back_equal_through_sqlalchemy(env: Env) -> None:
    store = env.store()
    with store.tx() as conn:
        conn.execute(posts.insert(), [_post("p-1")])
        conn.execute(deliveries.insert(), [_delivery(f"d-{i}", "p-1", part=i) for i in range(1, 4)])
    with store.read() as conn:
        rows = get_deliveries(conn, ["d-1", "d-2", "d-3"])
    values = {"remote_id": "r-ü", "receipt": {"remote_id": "r-ü", "data": {"root": None}}, "published_at": AT,
              "lease_until": None, "last_error": None}
    with store.tx() as conn:  # one shape of three: one executemany; then a single move of another shape
        moved = transitions(conn, "test", [Transition(rows[i], [State.QUEUED], State.PUBLISHED, "published", values)
                                           for i in ("d-1", "d-2")])
        moved += transitions(conn, "test", [Transition(rows["d-3"], [State.QUEUED], State.FAILED, "failed",
                                                       {"last_error": "no", "receipt": None})])
    assert moved == [True, True, True]
    with store.read() as conn:
        orm = {r["id"]: dict(r) for r in conn.execute(select(deliveries)).mappings()}
        assert get_delivery(conn, "d-1") == orm["d-1"]
        events = [dict(r) for r in conn.execute(select(audit_events).order_by(audit_events.c.seq)).mappings()]
        assert audit.verify(conn, check_rows=False).ok  # the rows were inserted here, without their events
    assert orm["d-1"]["state"] == "published" and orm["d-1"]["published_at"] == AT
    assert orm["d-2"]["receipt"] == values["receipt"] and orm["d-2"]["lease_until"] is None
    assert orm["d-3"]["state"] == "failed" and orm["d-3"]["receipt"] is None and orm["d-3"]["remote_id"] is None
    assert [e["delivery_id"] for e in events] == ["d-1", "d-2", "d-3"]
    assert all(e["at"].tzinfo is UTC for e in events)


def test_the_driver_refuses_a_naive_datetime_as_the_column_type_does(env: Env) -> None:
    store = env.store()
    with store.tx() as conn:
        conn.execute(posts.insert(), [_post("p-1")])
        conn.execute(deliveries.insert(), [_delivery("d-1", "p-1")])
    with store.read() as conn:
        row = get_delivery(conn, "d-1")
    assert row is not None
    with pytest.raises(ValueError, match="naive datetime"), store.tx() as conn:
        transitions(conn, "test", [Transition(row, [State.QUEUED], State.RETRY_WAIT, "x",
                                              {"due_at": datetime(2026, 1, 1)})])
    with store.read() as conn:
        assert get_delivery(conn, "d-1") == row  # nothing changed


def test_the_column_mirror_matches_the_schema() -> None:
    """``rawsql.COLUMNS`` (what the CLI's write path uses without SQLAlchemy) names every column of its tables,
    in order, with the conversion the column's type makes: a new column in ``publisher.schema`` must go there too."""
    from publisher.schema import media

    for table in (posts, deliveries, audit_events, media):
        assert rawsql.COLUMNS[table.name] == rawsql.columns_of(table), table.name


def test_the_driver_only_store_sets_up_sqlite_as_the_engine_does(tmp_path: Path) -> None:
    """The same PRAGMAs on both connections, and a post stored through one reads back equal through the other."""
    from publisher.store import Store

    url = f"sqlite:///{tmp_path}/p.sqlite"
    full, light = Store(url), Store(url, driver_only=True)
    pragmas = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
    with full.read() as conn:
        want = [conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in pragmas]
    with light.read() as conn:
        assert type(conn).__name__ == "DriverConnection"
        got = [rawsql.fetch_one(conn, f"PRAGMA {p}")[0] for p in pragmas]  # type: ignore[index]
    assert got == want
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    row = dict(id="p-1", kind="note", text="hello", link=None, language=None, variables={"a": 1}, scheduled_at=now,
               not_after=None, thread_key=None, thread_seq=None, idem_scope=None, idem_key=None, overrides=[],
               created_by="me", created_at=now)
    with light.tx() as conn:
        rawsql.insert_dicts(conn, "posts", [row])
    with full.read() as conn:
        stored = dict(conn.execute(select(posts)).mappings().one())
    assert stored == {**row, "audit_seq": None}
    with light.read() as conn:
        assert rawsql.select_where_in(conn, "posts", "id", ["p-1"]) == [stored]


def test_a_duplicate_insert_raises_what_accept_retries_on(env: Env) -> None:
    """``service.accept`` retries on ``rawsql.integrity_errors()``: the driver's error, raised on the DBAPI cursor
    both under SQLAlchemy's transaction (SQLite or PostgreSQL) and on the driver-only store (SQLite)."""
    from publisher.store import Store

    stores = [env.store()]
    if stores[0].is_sqlite:
        stores.append(Store(stores[0].url, driver_only=True))
    for n, store in enumerate(stores):
        with store.tx() as conn:
            rawsql.insert_dicts(conn, "posts", [_post(f"p-dup{n}")])
        with pytest.raises(rawsql.integrity_errors()), store.tx() as conn:
            rawsql.insert_dicts(conn, "posts", [_post(f"p-dup{n}")])


def test_postgresql_prepares_a_statement_at_its_first_run_on_a_connection(env: Env) -> None:
    """A worker's pool has up to 30 connections a process, and a burst runs each hot statement a few times on each:
    prepared only after five runs (psycopg's default) most runs were parsed again. Seen from the server."""
    store = env.store()
    if store.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite's statements are cached by the sqlite3 module")
    with store.read() as conn:
        assert get_deliveries(conn, ["d-none"]) == {}
        prepared = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars().all()
    assert any("FROM unnest(" in s and "deliveries" in s for s in prepared), prepared
