"""The PostgreSQL store's pooled connections: pinged only after sitting idle, reads in autocommit.

A worker checks a connection out four times a broker message. ``pool_pre_ping`` pinged on each checkout (autocommit
on, an empty statement, autocommit off), and each read opened and closed a transaction of its own: round trips that
carried no data (benchmarks/RESULTS-scale.md, 2026-12-06 13:40). These tests hold what must not change with them: a
connection the server dropped is still replaced before anyone uses it, and no write transaction ever runs on a
connection a read left in autocommit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy.exc import OperationalError

from publisher import store as store_mod
from publisher.schema import posts
from publisher.store import Store
from tests.conftest import Env, wait_for


@pytest.fixture
def pg(env: Env) -> Iterator[Store]:
    store = env.store()
    if store.is_sqlite:
        pytest.skip("PostgreSQL only: the SQLite store pools nothing over a network")
    yield store
    store.dispose()


def _backend(conn: Any) -> int:
    return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())


def _terminate(url: str, pid: int) -> None:
    """Drop one backend from outside, as a database restart or an administrator does, and wait until it is gone."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        wait_for(lambda: admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
                 == (0,), timeout=30, what=f"backend {pid} to exit")


def _post(i: int) -> dict[str, Any]:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return dict(id=f"p-pool{i}", kind="note", text="t", variables={}, scheduled_at=now, overrides=[],
                created_by="test", created_at=now)


def test_a_connection_the_server_dropped_while_pooled_is_replaced_before_anyone_uses_it(
        pg: Store, env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_mod, "PING_IDLE_SECONDS", 0.0)  # every checkout but a new connection's is "idle"
    with pg.read() as conn:
        dropped = _backend(conn)
    _terminate(pg.url, dropped)
    with pg.read() as conn:  # the same pooled connection comes out first: its ping fails, a new one replaces it
        assert _backend(conn) != dropped
    with pg.tx() as conn:
        conn.execute(posts.insert(), [_post(1)])
        assert _backend(conn) != dropped


def test_a_connection_used_a_moment_ago_is_not_pinged_and_one_idle_longer_is(
        pg: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    pings: list[object] = []
    real = pg.engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        pings.append(dbapi_conn)
        return real(dbapi_conn)

    monkeypatch.setattr(pg.engine.dialect, "do_ping", counted)
    with pg.read() as conn:
        _backend(conn)
    for _ in range(20):
        with pg.read() as conn:
            _backend(conn)
    assert pings == []
    monkeypatch.setattr(store_mod, "PING_IDLE_SECONDS", 0.0)
    for _ in range(5):
        with pg.read() as conn:
            _backend(conn)
    assert len(pings) == 5


def test_a_read_runs_outside_a_transaction_and_a_write_after_it_on_the_same_connection_is_one(pg: Store) -> None:
    with pg.read() as conn:
        pid = _backend(conn)
        raw = conn.connection.driver_connection
        assert raw is not None and raw.info.transaction_status == TransactionStatus.IDLE  # no BEGIN was sent
    with pytest.raises(RuntimeError), pg.tx() as conn:
        assert _backend(conn) == pid  # the connection the read used, back from the pool
        conn.execute(posts.insert(), [_post(2)])
        raise RuntimeError("the transaction fails after its insert")
    with pg.read() as conn:  # rolled back with the rest: the insert was not committed on its own
        assert conn.exec_driver_sql("SELECT count(*) FROM posts WHERE id = 'p-pool2'").scalar() == 0


def test_a_read_whose_connection_breaks_raises_and_the_next_read_gets_a_working_connection(pg: Store) -> None:
    with pytest.raises(OperationalError), pg.read() as conn:
        dropped = _backend(conn)
        conn.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")
    with pg.read() as conn:
        assert _backend(conn) != dropped
    with pg.tx() as conn:
        conn.execute(posts.insert(), [_post(3)])
    with pg.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM posts WHERE id = 'p-pool3'").scalar() == 1


def test_json_values_come_back_as_they_were_written_whatever_their_characters(pg: Store) -> None:
    """The pool's JSON loader decodes what PostgreSQL sends as UTF-8 (a wrong codec mangles or rejects these)."""
    import json

    from publisher.store import get_posts

    variables = {"city": "Zürich", "snow": "☃", "rocket": "🚀", "quote": 'a "b" \\ c', "rtl": "שלום"}
    with pg.tx() as conn:
        conn.execute(posts.insert(), [_post(4)])
        # as written by hand or by another tool: the store's own writes escape every non-ASCII character
        conn.exec_driver_sql("UPDATE posts SET variables = %s::json WHERE id = 'p-pool4'",
                             (json.dumps(variables, ensure_ascii=False),))
        assert conn.exec_driver_sql("SELECT variables::text FROM posts WHERE id = 'p-pool4'").scalar().count("ü") == 1
    with pg.read() as conn:
        assert get_posts(conn, ["p-pool4"])["p-pool4"]["variables"] == variables
        assert conn.execute(posts.select().where(posts.c.id == "p-pool4")).mappings().one()["variables"] == variables


def test_a_transaction_whose_connection_is_dropped_raises_the_drivers_error_and_the_next_one_works(pg: Store) -> None:
    """Not SQLAlchemy's PendingRollbackError, which the audit queue's clean-up raised on the invalidated connection
    and which hid the cause: the scheduler logged "scheduler tick failed: PendingRollbackError"."""
    with pytest.raises(OperationalError), pg.tx() as conn:
        dropped = _backend(conn)
        conn.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")
    with pg.tx() as conn:
        assert _backend(conn) != dropped
        conn.execute(posts.insert(), [_post(5)])
    with pg.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM posts WHERE id = 'p-pool5'").scalar() == 1
