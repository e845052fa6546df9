"""A SQLite connection without SQLAlchemy, for the CLI's write path (``publisher post``, ``publisher ticket``).

Importing SQLAlchemy costs a cold CLI call more than everything else it does (benchmarks/RESULTS-cli.md). The
statements of that path run on the DBAPI cursor anyway (``publisher.rawsql``), so on SQLite ``Store`` can hand
them this instead of an engine's connection: the same statements, the same PRAGMAs, the same ``BEGIN IMMEDIATE``
under the same locks. It offers only what ``rawsql`` and ``audit`` use (``dialect.name``, the driver connection,
``info``); anything else (a SQLAlchemy statement) fails loudly at once instead of running differently.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: what ``Store._engine`` sets on every SQLite connection (kept equal by tests/test_rawsql.py)
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=60000",
           "PRAGMA foreign_keys=ON")


class _Dialect:
    name = "sqlite"


class _Pooled:
    def __init__(self, raw: sqlite3.Connection) -> None:
        self.driver_connection = raw


class DriverConnection:
    """One transaction's view of a sqlite3 connection, shaped like the part of SQLAlchemy's ``Connection`` that
    ``publisher.rawsql`` and ``publisher.audit`` use."""

    dialect = _Dialect()

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.connection = _Pooled(raw)
        self.info: dict[str, Any] = {}


def connect(path: str) -> sqlite3.Connection:
    """A connection set up as ``Store`` sets up its engine's (autocommit: the store issues BEGIN itself)."""
    raw = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
    for pragma in PRAGMAS:
        raw.execute(pragma)
    return raw


@contextmanager
def transaction(raw: sqlite3.Connection, *, readonly: bool) -> Iterator[DriverConnection]:
    """BEGIN (IMMEDIATE for a write) ... COMMIT, or ROLLBACK if the body raises."""
    raw.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
    try:
        yield DriverConnection(raw)
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    raw.execute("COMMIT")


def revision(raw: sqlite3.Connection) -> str | None:
    """The Alembic revision the database is at; None for a new database (raises sqlite3.Error for a bad file)."""
    try:
        row = raw.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return None
        raise
    return str(row[0]) if row else None
