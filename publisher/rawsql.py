"""The hot path's statements, run on the DBAPI connection under SQLAlchemy's transaction.

SQLAlchemy's per-statement machinery (compiling, cache keys, bind and result processors) cost more than SQLite
itself on the publish path (benchmarks/RESULTS-spine.md). These few statements are therefore plain SQL text per
dialect, with values converted exactly as the column types in ``publisher.schema`` would convert them, so rows
written here read back the same through SQLAlchemy and the other way round (``tests/test_rawsql.py`` checks both
directions on SQLite and PostgreSQL). Only column names and state literals from code ever go into the SQL text;
every value is a bound parameter.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection, Table

    from publisher.lightdb import DriverConnection

    Conn = Connection | DriverConnection
    #: a table as ``publisher.schema`` defines it, or its name in ``COLUMNS``
    TableRef = Table | str
else:
    Conn = TableRef = Any

Convert = Callable[[Any], Any]

#: The tables the post/ticket write path reads and writes, as (column, conversion) in ``publisher.schema``'s order:
#: "dt" a UTCDateTime, "json" a JSON column, "" stored as given. Lets that path run without importing SQLAlchemy
#: (its import alone cost about ten bare interpreter starts, benchmarks/RESULTS-cli.md); ``publisher.schema``
#: stays the definition, and ``tests/test_rawsql.py`` checks this mirror against it.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "posts": (("id", ""), ("kind", ""), ("text", ""), ("link", ""), ("language", ""), ("variables", "json"),
              ("scheduled_at", "dt"), ("not_after", "dt"), ("thread_key", ""), ("thread_seq", ""),
              ("idem_scope", ""), ("idem_key", ""), ("overrides", "json"), ("created_by", ""), ("created_at", "dt"),
              ("audit_seq", "")),
    "deliveries": (("id", ""), ("post_id", ""), ("account", ""), ("channel", ""), ("part", ""), ("payload", "json"),
                   ("state", ""), ("attempts", ""), ("due_at", "dt"), ("not_after", "dt"), ("prev_id", ""),
                   ("thread_key", ""), ("lease_until", "dt"), ("attempt_id", ""), ("message_id", ""),
                   ("enqueued_at", "dt"), ("remote_id", ""), ("remote_url", ""), ("receipt", "json"),
                   ("last_error", ""), ("published_at", "dt"), ("updated_at", "dt"), ("tone_key", ""),
                   ("first_attempt_at", "dt"), ("attempt_at", "dt"), ("audit_seq", "")),
    "audit_events": (("seq", ""), ("at", "dt"), ("actor", ""), ("action", ""), ("post_id", ""), ("delivery_id", ""),
                     ("account", ""), ("details", ""), ("prev_hash", ""), ("hash", ""), ("stream", ""),
                     ("stream_seq", "")),
    "media": (("sha256", ""), ("mime", ""), ("data", ""), ("width", ""), ("height", ""), ("size", ""),
              ("created_at", "dt")),
}


def columns_of(table: TableRef) -> tuple[tuple[str, str], ...]:
    """(column, conversion) of ``table``: from ``COLUMNS`` by name, else from the SQLAlchemy table's types."""
    if isinstance(table, str):
        return COLUMNS[table]
    from sqlalchemy import JSON

    from publisher.schema import UTCDateTime

    return tuple((c.name, "dt" if isinstance(c.type, UTCDateTime) else "json" if isinstance(c.type, JSON) else "")
                 for c in table.columns)


def table_name(table: TableRef) -> str:
    return table if isinstance(table, str) else table.name


def _identity(value: Any) -> Any:
    return value


def _sqlite_dt_in(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
    # the text SQLAlchemy's SQLite DATETIME stores: "2026-12-01 09:00:00.000000", naive UTC
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _pg_dt_in(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
    return value.astimezone(UTC).replace(tzinfo=None)


def _sqlite_dt_out(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _pg_dt_out(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _sqlite_json_in(value: Any) -> str:
    return json.dumps(value)  # as SQLAlchemy's JSON type: None is stored as JSON null


def _sqlite_json_out(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _pg_json_in(value: Any) -> Any:
    from psycopg.types.json import Json

    return Json(value)


class Dialect:
    """Placeholders and value conversions of one DBAPI driver: sqlite3 or psycopg."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite
        self._dt_in: Convert = _sqlite_dt_in if sqlite else _pg_dt_in
        self._dt_out: Convert = _sqlite_dt_out if sqlite else _pg_dt_out
        self._json_in: Convert = _sqlite_json_in if sqlite else _pg_json_in
        self._json_out: Convert = _sqlite_json_out if sqlite else _identity

    @property
    def placeholder(self) -> str:
        """The driver's positional parameter mark."""
        return "?" if self.sqlite else "%s"

    def param(self, name: str) -> str:
        return f":{name}" if self.sqlite else f"%({name})s"

    @functools.cache  # noqa: B019 - two instances for the life of the process
    def binders(self, table: TableRef) -> dict[str, Convert]:
        return {name: self._convert(kind, into=True) for name, kind in columns_of(table)}

    @functools.cache  # noqa: B019
    def readers(self, table: TableRef) -> tuple[tuple[str, Convert], ...]:
        return tuple((name, self._convert(kind, into=False)) for name, kind in columns_of(table))

    def _convert(self, kind: str, *, into: bool) -> Convert:
        if kind == "dt":
            return self._dt_in if into else self._dt_out
        if kind == "json":
            return self._json_in if into else self._json_out
        return _identity

    def rows(self, table: TableRef, fetched: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
        """Rows of ``SELECT <every column of table>`` as the dicts SQLAlchemy's ``.mappings()`` would give."""
        readers = self.readers(table)
        plain = [i for i, (_, f) in enumerate(readers) if f is _identity]
        conv = [(i, n, f) for i, (n, f) in enumerate(readers) if f is not _identity]
        names = [n for n, _ in readers]
        out = []
        for r in fetched:
            row = {names[i]: r[i] for i in plain}
            for i, n, f in conv:
                row[n] = f(r[i])
            out.append(row)
        return out


_DIALECTS = {True: Dialect(True), False: Dialect(False)}


def dialect(sqlite: bool) -> Dialect:
    return _DIALECTS[sqlite]


def dialect_of(conn: Conn) -> Dialect:
    return _DIALECTS[conn.dialect.name == "sqlite"]


def cursor(conn: Conn) -> Any:
    """A DBAPI cursor inside ``conn``'s transaction."""
    return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]


def select_where_in(conn: Conn, table: TableRef, column: str, values: Sequence[Any],
                    order_by: str = "") -> list[dict[str, Any]]:
    """``SELECT * FROM table WHERE column IN values [ORDER BY ...]``, converted as SQLAlchemy would. On PostgreSQL,
    text keys are looked up one by one (``probe_sql``)."""
    if not values:
        return []
    d = dialect_of(conn)
    if not d.sqlite and all(isinstance(v, str) for v in values):
        with closing(cursor(conn)) as cur:
            cur.execute(probe_sql(table, column, order_by), [list(dict.fromkeys(values))])
            return d.rows(table, cur.fetchall())
    cond, params = in_(d, column, values)
    return select_rows(conn, table, cond, params, order_by)


@functools.lru_cache(maxsize=32)
def probe_sql(table: TableRef, column: str, order_by: str = "") -> str:
    """PostgreSQL: the rows whose text ``column`` is one of the keys in the one parameter (an array), each key
    looked up on its own (a lateral subquery per key, kept apart by ``OFFSET 0``), so each is an index probe
    whatever the planner's statistics say. ``column = ANY(keys)`` is planned as one scan, and on a table not yet
    analysed (an import a minute old, before autovacuum) the planner takes rows for ~2 kB each, thinks 10,000
    posts are ~500, and reads the whole table for 50 keys: two such scans per broker message were a fifth of the
    server's CPU in the 10,000 burst (benchmarks/RESULTS-scale.md)."""
    cols = ", ".join(name for name, _ in columns_of(table))
    return (f"SELECT {cols} FROM unnest(%b::text[]) AS k(v) CROSS JOIN LATERAL (SELECT {cols} FROM "
            f"{table_name(table)} WHERE {column} = k.v OFFSET 0) AS t" + (f" ORDER BY {order_by}" if order_by else ""))


def in_(d: Dialect, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column IN values`` as SQL text and its positional parameters."""
    if d.sqlite:
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)
    return f"{column} = ANY(%s)", [list(values)]


def select_rows(conn: Conn, table: TableRef, where: str, params: Sequence[Any], order_by: str = "",
                limit: int | None = None) -> list[dict[str, Any]]:
    """``SELECT * FROM table WHERE <where> [ORDER BY ...] [LIMIT n]`` (positional parameters), as dicts."""
    d = dialect_of(conn)
    cols = ", ".join(name for name, _ in columns_of(table))
    sql = (f"SELECT {cols} FROM {table_name(table)} WHERE {where}" + (f" ORDER BY {order_by}" if order_by else "")
           + (f" LIMIT {int(limit)}" if limit is not None else ""))
    with closing(cursor(conn)) as cur:
        cur.execute(sql, list(params))
        return d.rows(table, cur.fetchall())


def insert_dicts(conn: Conn, table: TableRef, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys), values converted as the column types would convert them. Only
    the columns the rows name are written: give every column that has a default in ``publisher.schema``."""
    if not rows:
        return
    binders = dialect_of(conn).binders(table)
    columns = [name for name, _ in columns_of(table) if name in rows[0]]
    insert_many(conn, table_name(table), columns, [tuple(binders[c](r.get(c)) for c in columns) for r in rows])


def integrity_errors() -> tuple[type[BaseException], ...]:
    """The exception classes a unique or foreign-key violation raises here: the driver's (statements run on the
    DBAPI cursor) and SQLAlchemy's (statements run through it), whichever are loaded."""
    found: list[type[BaseException]] = [sqlite3.IntegrityError]
    for module in ("psycopg", "sqlalchemy.exc"):
        if module in sys.modules:
            found.append(sys.modules[module].IntegrityError)
    return tuple(found)


def execute_many(conn: Conn, sql: str, params: Sequence[Mapping[str, Any]] | Sequence[tuple[Any, ...]]) -> int:
    """One execute (one parameter set) or executemany on the driver; the total number of rows it changed."""
    with closing(cursor(conn)) as cur:
        if len(params) == 1:
            cur.execute(sql, params[0])
        else:
            cur.executemany(sql, params)
        return int(cur.rowcount)


#: SQLite releases the GIL for every step of a statement, and a thread that wants it back waits out the switch
#: interval behind the worker's other threads: an executemany of 50 rows inside the write lock cost 50 such waits
#: (py-spy of a worker under a burst). One multi-row statement is one step. UPDATE ... FROM needs SQLite 3.33.
MULTI_ROW = sqlite3.sqlite_version_info >= (3, 33, 0)
MAX_ROWS = 500  # rows per multi-row statement; x at most ~15 columns: far below SQLite's 32,766 parameters


#: whether UPDATE ... RETURNING works, by "is SQLite": it does on PostgreSQL, and on SQLite from 3.35
RETURNING = {True: sqlite3.sqlite_version_info >= (3, 35, 0), False: True}


def returning(conn: Conn, sql: str, params: Sequence[Mapping[str, Any]] | Sequence[tuple[Any, ...]]) -> set[Any]:
    """Run ``sql`` (ending in ``RETURNING <one column>``) once per parameter set, executemany pipelined on
    psycopg: the values every run returned."""
    out: set[Any] = set()
    with closing(cursor(conn)) as cur:
        if len(params) == 1 or isinstance(cur, sqlite3.Cursor):  # sqlite3's executemany returns no rows
            for p in params:
                cur.execute(sql, p)
                out.update(r[0] for r in cur.fetchall())
            return out
        cur.executemany(sql, params, returning=True)
        while True:
            out.update(r[0] for r in cur.fetchall())
            if not cur.nextset():
                return out


def returning_rows(conn: Conn, sql: str, params: Sequence[Mapping[str, Any]] | Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Run ``sql`` (ending in ``RETURNING ...``) once per parameter set, executemany pipelined on psycopg: every
    row every run returned, in order."""
    out: list[tuple[Any, ...]] = []
    with closing(cursor(conn)) as cur:
        if len(params) == 1 or isinstance(cur, sqlite3.Cursor):
            for p in params:
                cur.execute(sql, p)
                out.extend(tuple(r) for r in cur.fetchall())
            return out
        cur.executemany(sql, params, returning=True)
        while True:
            out.extend(tuple(r) for r in cur.fetchall())
            if not cur.nextset():
                return out


def raw_rows(conn: Conn, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """PostgreSQL: run ``sql``, whose parameters are numbered (``$1``...), once; the rows it returns. psycopg's
    RawCursor sends the statement as it is: a statement of many parameters skips the placeholder parsing that
    psycopg repeats on every execution of one with more than 50 (it caches only smaller ones)."""
    from psycopg import RawCursor

    with closing(RawCursor(conn.connection.driver_connection)) as cur:  # type: ignore[union-attr,arg-type]
        cur.execute(sql, params)
        return [tuple(r) for r in cur.fetchall()]


def insert_many(conn: Conn, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """``INSERT INTO table (columns) VALUES ...``: one statement per 500 rows on SQLite, executemany elsewhere."""
    d = dialect_of(conn)
    cols = ", ".join(columns)
    if not d.sqlite:
        execute_many(conn, f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})", rows)
        return
    one = f"({', '.join('?' * len(columns))})"
    for start in range(0, len(rows), MAX_ROWS):
        chunk = rows[start:start + MAX_ROWS]
        execute_many(conn, f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * len(chunk))}",
                     [tuple(v for r in chunk for v in r)])


def fetch_one(conn: Conn, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    with closing(cursor(conn)) as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
        return tuple(row) if row is not None else None


def fetch_all(conn: Conn, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with closing(cursor(conn)) as cur:
        cur.execute(sql, params)
        return [tuple(r) for r in cur.fetchall()]


def execute(conn: Conn, sql: str) -> None:
    with closing(cursor(conn)) as cur:
        cur.execute(sql)
