"""Assertions shared by the end-to-end tests (the Jepsen-style checker of RELIABILITY.md 7.2)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.sql import visitors

from publisher import audit
from publisher.channels.dryrun import ledger_rows
from publisher.schema import deliveries, posts
from publisher.store import Store


def all_deliveries(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        q = select(deliveries, posts.c.thread_seq).join(posts, posts.c.id == deliveries.c.post_id)
        return [dict(r) for r in conn.execute(q).mappings()]


def states(store: Store) -> Counter[str]:
    return Counter(d["state"] for d in all_deliveries(store))


def check_invariants(store: Store, ledger_path: Any) -> dict[str, Any]:
    """I1 no duplicate, I2 nothing lost, I3 order, I4 audit chain. Returns the ledger for further checks."""
    ds = {d["id"]: d for d in all_deliveries(store)}
    ledger = ledger_rows(ledger_path)
    per_delivery = Counter(r["delivery_id"] for r in ledger)
    dupes = {k: v for k, v in per_delivery.items() if v > 1}
    assert not dupes, f"published twice: {dupes}"
    for d in ds.values():
        if d["state"] == "published":
            assert per_delivery[d["id"]] == 1, f"{d['id']} is published but the platform has {per_delivery[d['id']]}"
            row = next(r for r in ledger if r["delivery_id"] == d["id"])
            assert row["remote_id"] == d["remote_id"]
    by_remote = {r["remote_id"]: r for r in ledger}
    position = {r["delivery_id"]: r["seq"] for r in ledger}
    for d in ds.values():
        if d["state"] == "published" and d["prev_id"]:
            prev = ds[d["prev_id"]]
            row = next(r for r in ledger if r["delivery_id"] == d["id"])
            assert row["in_reply_to"] == prev["remote_id"], f"{d['id']} does not reply to its predecessor"
            assert position[prev["id"]] < position[d["id"]], f"{d['id']} was published before its predecessor"
            assert by_remote[row["in_reply_to"]]["delivery_id"] == prev["id"]
    with store.read() as conn:
        v = audit.verify(conn)
    assert v.ok, v.reason
    return {"ledger": ledger, "deliveries": ds}


@contextmanager
def snapshot(store: Store) -> Iterator[Connection]:
    """A read transaction that keeps seeing the database as it is now, whatever commits after: what a rival
    scheduler or worker read just before another committed (the race every conditional update exists for).
    SQLite: a deferred transaction in WAL mode; PostgreSQL: REPEATABLE READ."""
    conn = store.engine.connect()
    conn = (conn.execution_options(publisher_readonly=True) if store.is_sqlite
            else conn.execution_options(isolation_level="REPEATABLE READ"))
    with conn, conn.begin():
        conn.execute(select(func.count()).select_from(deliveries))  # the snapshot is taken at the first read
        yield conn


def _unlocked(stmt: Any) -> None:
    stmt._for_update_arg = None


class _SelectsFrom:
    """A write connection whose SQLAlchemy SELECTs answer from ``earlier`` (how many rows each returned is
    appended to ``stale``); everything else (UPDATEs, the audit chain, raw driver SQL) runs on the connection."""

    def __init__(self, conn: Connection, earlier: Connection, stale: list[int]) -> None:
        self._conn, self._earlier, self._stale = conn, earlier, stale

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(statement, Select):
            # a locking read (FOR UPDATE SKIP LOCKED on PostgreSQL, also inside a CTE) cannot be answered from a
            # snapshot: ask the past without the locks, so only the conditional UPDATE stands between the rivals
            statement = visitors.cloned_traverse(statement, {}, {"select": _unlocked})
            frozen = self._earlier.execute(statement, *args, **kwargs).freeze()
            self._stale.append(len(frozen().all()))
            return frozen()
        return self._conn.execute(statement, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class ReadsBefore:
    """``store`` as seen by a rival that read before the other side committed: every read (``read()``, raw or
    not, and the SQLAlchemy SELECTs inside its write transactions) answers from ``earlier`` (see ``snapshot``);
    every write goes to the database as it is now. ``stale`` counts the SELECTs answered from the past inside
    write transactions and the rows each returned, so a test can show the race really happened."""

    def __init__(self, store: Store, earlier: Connection) -> None:
        self._store, self._earlier = store, earlier
        self.stale: list[int] = []

    @contextmanager
    def read(self) -> Iterator[Connection]:
        yield self._earlier

    @contextmanager
    def tx(self) -> Iterator[Any]:
        with self._store.tx() as conn:
            yield _SelectsFrom(conn, self._earlier, self.stale)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
