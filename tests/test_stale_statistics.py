"""A state change finds its delivery by id, whatever PostgreSQL's statistics say about the state column.

Statistics about ``deliveries.state`` are stale by nature: ANALYZE runs after an import, when every row is
``scheduled``, and at the top of the hour the scheduler moves thousands of them to ``queued`` within a second. With
statistics that say no row is queued, PostgreSQL found the worker's claim ("id = x AND state = 'queued'") through
``ix_deliveries_state_due``, scanning every queued row once per delivery: ``benchmarks/pg_statements.py 10000``
after an ANALYZE spent 10.5 s of server CPU, 2.7 s with the state test kept off the index (RESULTS-scale.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from publisher import audit, rawsql
from publisher.models import State
from publisher.schema import deliveries, posts
from publisher.store import (
    Transition,
    claim_due,
    deliveries_of_posts,
    due_query,
    get_deliveries,
    get_posts,
    prepare,
    transitions,
    with_siblings,
)
from tests.conftest import Env


def _scheduled(store: Any, n: int, due: datetime, now: datetime) -> None:
    """``n`` posts of one delivery each, scheduled for ``due``, as an import writes them."""
    with store.tx() as conn:
        conn.execute(posts.insert(), [dict(id=f"p-{i:05d}", kind="note", text="t", variables={}, scheduled_at=due,
                                           overrides=[], created_by="test", created_at=now) for i in range(n)])
        conn.execute(deliveries.insert(), [dict(id=f"d-{i:05d}", post_id=f"p-{i:05d}", account="noc",
                                                channel="dryrun", part=1, payload={"text": "t"}, state="scheduled",
                                                attempts=0, due_at=due, updated_at=now) for i in range(n)])


def _plan(conn: Any, sql: str, params: Any) -> Any:
    cur = rawsql.cursor(conn)
    cur.execute("EXPLAIN (FORMAT JSON) " + sql, params)
    plan = cur.fetchone()[0]
    return json.loads(plan) if isinstance(plan, str) else plan


def _nodes(plan: Any) -> Iterator[dict[str, Any]]:
    """Every node of a JSON plan (a dict with a "Node Type"), at any depth."""
    if isinstance(plan, dict):
        if "Node Type" in plan:
            yield plan
        for v in plan.values():
            yield from _nodes(v)
    elif isinstance(plan, list):
        for v in plan:
            yield from _nodes(v)


def _seq_scans(plan: Any) -> list[str]:
    """The relations a JSON plan reads from end to end."""
    return [n["Relation Name"] for n in _nodes(plan) if n["Node Type"] == "Seq Scan"]


def _indexes(plan: Any) -> set[str]:
    """Every index a JSON plan reads."""
    return {n["Index Name"] for n in _nodes(plan) if "Index Name" in n}


def test_a_state_change_finds_its_row_by_id_when_the_statistics_say_no_row_is_in_that_state(env: Env) -> None:
    store = env.store()
    if store.is_sqlite:
        pytest.skip("PostgreSQL only: its planner chooses by the statistics ANALYZE took")
    now = datetime.now(UTC)
    due = now + timedelta(hours=1)
    n = 3000
    _scheduled(store, n, due, now)
    with store.tx() as conn:
        conn.exec_driver_sql("ANALYZE deliveries")  # every row scheduled: "no row is queued"
        conn.exec_driver_sql("UPDATE deliveries SET state = 'queued'")  # what the scheduler does at the due time
    with store.tx() as conn:
        d = get_deliveries(conn, ["d-01234"])["d-01234"]
        claim = Transition(d, [State.QUEUED], State.PUBLISHING, "publishing", values={"attempts": 1})
        _idx, one, _many, params, _flat = prepare("worker", [claim], sqlite=False).shapes[0]
        plan = _plan(conn, one, params[0])
        assert _indexes(plan) == {"deliveries_pkey"}, plan
        # and the statement still does its work: the claim moves the row, a second one finds it gone
        assert transitions(conn, "worker", [claim]) == [True]
        assert transitions(conn, "worker", [claim]) == [False]


def test_a_chunk_of_state_changes_finds_each_row_by_id_when_the_statistics_say_no_row_is_in_that_state(
        env: Env) -> None:
    """The moves of one shape run as one ``UPDATE ... FROM (VALUES ...)`` on PostgreSQL: it must look each row up by
    id too, not join every queued row, and still move each row only from the states it names."""
    store = env.store()
    if store.is_sqlite:
        pytest.skip("PostgreSQL only: its planner chooses by the statistics ANALYZE took")
    from psycopg import RawCursor

    now = datetime.now(UTC)
    _scheduled(store, 3000, now + timedelta(hours=1), now)
    with store.tx() as conn:
        conn.exec_driver_sql("ANALYZE deliveries")  # every row scheduled: "no row is queued"
        conn.exec_driver_sql("UPDATE deliveries SET state = 'queued'")
    with store.tx() as conn:
        rows = get_deliveries(conn, [f"d-{i:05d}" for i in range(1000, 1025)])
        claims = [Transition(d, [State.QUEUED], State.PUBLISHING, "publishing", values={"attempts": 1})
                  for d in rows.values()]
        _idx, _one, many, _params, flat = prepare("worker", claims, sqlite=False).shapes[0]
        assert many is not None and many.count("VALUES") == 1
        with RawCursor(conn.connection.driver_connection) as cur:
            cur.execute("EXPLAIN (FORMAT JSON) " + many, flat)
            plan = cur.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        assert _seq_scans(plan) == [], plan
        assert _indexes(plan) == {"deliveries_pkey"}, plan
        conn.exec_driver_sql("UPDATE deliveries SET state = 'cancelled' WHERE id = 'd-01003'")
        assert transitions(conn, "worker", claims) == [d["id"] != "d-01003" for d in rows.values()]
        assert transitions(conn, "worker", claims) == [False] * 25
    with store.read() as conn:  # each moved row took its event's seq, and the chain holds
        # (the rows were inserted without events, as an import outside publisher would: verify names those)
        moved = [d for d in rows if d != "d-01003"]
        problems = audit.verify(conn).problems
        assert [p for p in problems if not p.startswith(("post p-", "delivery d-"))] == [], problems[:5]
        assert [p for p in problems if any(d in p for d in moved)] == []
        anchored = conn.exec_driver_sql("SELECT count(*) FROM deliveries d WHERE d.audit_seq = (SELECT max(seq) FROM "
                                        "audit_events a WHERE a.delivery_id = d.id)").scalar()
        assert anchored == 24


def test_an_empty_tick_walks_the_state_index_when_the_statistics_say_every_row_is_scheduled(env: Env) -> None:
    """After an import is analysed every row is ``scheduled``; once the burst is claimed nothing is. The claim of
    the next tick must walk ``ix_deliveries_state_due`` and stop, not read and sort the whole table."""
    store = env.store()
    if store.is_sqlite:
        pytest.skip("PostgreSQL only: its planner chooses by the statistics ANALYZE took")
    now = datetime.now(UTC)
    n = 3000
    _scheduled(store, n, now, now)
    with store.tx() as conn:
        conn.exec_driver_sql("ANALYZE deliveries")  # every row scheduled and due
        assert len(claim_due(conn, "scheduler", now, timedelta(seconds=1), n)) == n  # the burst is claimed
    with store.tx() as conn:
        tick = due_query(500, sqlite=False).compile(dialect=conn.dialect).construct_expanded_state({"until": now})
        plan = _plan(conn, tick.statement, tick.parameters)
        assert _seq_scans(plan) == [], plan
        assert "ix_deliveries_state_due" in _indexes(plan), plan
        assert claim_due(conn, "scheduler", now, timedelta(seconds=1), 500) == []


def test_the_reads_by_key_probe_the_index_on_tables_not_yet_analysed(env: Env) -> None:
    """A worker reads each message's deliveries with their posts' siblings, and the posts, by key. On tables an import
    filled a moment ago (never analysed: the planner takes every row for ~2 kB), ``column = ANY(keys)`` read the
    whole table for 50 keys; each key must be an index probe. Counted by PostgreSQL itself, for this transaction
    (``pg_stat_xact_user_tables``), on the statements the store really runs."""
    store = env.store()
    if store.is_sqlite:
        pytest.skip("PostgreSQL only: its planner chooses by the statistics ANALYZE took")
    now = datetime.now(UTC)
    _scheduled(store, 3000, now, now)
    keys = [f"{i:05d}" for i in range(1000, 1050)]
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM pg_class WHERE relname IN ('posts', 'deliveries') "
                                    "AND relnamespace = current_schema()::regnamespace AND reltuples >= 0").scalar() == 0
        before = _scans(conn)
        found = get_deliveries(conn, [f"d-{k}" for k in keys])
        assert get_posts(conn, [f"p-{k}" for k in keys]).keys() == {f"p-{k}" for k in keys}
        siblings = deliveries_of_posts(conn, [f"p-{k}" for k in keys] + ["p-01000"])  # a key twice: its rows once
        assert with_siblings(conn, [f"d-{k}" for k in keys]) == (found, siblings)  # a worker's read of a message
        assert found.keys() == {f"d-{k}" for k in keys}
        assert {p: [d["id"] for d in ds] for p, ds in siblings.items()} == {f"p-{k}": [f"d-{k}"] for k in keys}
        after = _scans(conn)
    assert {t: after[t][0] - before[t][0] for t in after} == {"posts": 0, "deliveries": 0}  # no table read end to end
    assert {t: after[t][1] - before[t][1] for t in after} == {"posts": 50, "deliveries": 200}  # a probe a key


def _scans(conn: Any) -> dict[str, tuple[int, int]]:
    """This backend's sequential and index scans of posts and deliveries not yet reported to the statistics: read
    twice in one transaction, the difference is what happened in between."""
    return {r[0]: (r[1], r[2]) for r in conn.exec_driver_sql(
        "SELECT relname, seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname IN ('posts', 'deliveries') "
        "AND schemaname = current_schema()")}
