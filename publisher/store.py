"""The store: SQLite by default, PostgreSQL by URL. The source of truth for state and time.

Every state change is a conditional UPDATE (``WHERE state IN (...)``) plus its audit event in one transaction, so
two workers, two schedulers or a duplicate message can never both win. SQLite serialises write transactions
(``BEGIN IMMEDIATE``). PostgreSQL does not: the audit log is several hash chains, and a transaction locks one
chain's head only from its audit flush to COMMIT (publisher.audit); what must not run twice at once takes a lock of
its own (``lock_keys``), and the scheduler's claim skips rows another claim holds (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import functools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from publisher import audit, rawsql
from publisher.credentials import redact
from publisher.errors import ConfigError
from publisher.filelock import ProcessFileLock
from publisher.models import SKIPPABLE, State

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy import CTE, Connection, Engine, Select

# SQLAlchemy and the tables are imported where used: the CLI's post and ticket commands on SQLite never load them
# (``Store(..., driver_only=True)``, publisher.lightdb).

SCHEMA_HEAD = "0009"


def new_id(prefix: str) -> str:
    """Short, URL-safe ids that sort by creation time (``d-19ad1b2c3d4e5f60718293a4``: the millisecond in 11 hex
    digits, then 48 random bits), like UUIDv7. Time order keeps the index entries of deliveries created together
    on neighbouring pages: with random ids every audit event of a burst dirtied an index page of its own (about
    70 WAL frames per 25 transitions, 24 with time-ordered ids; benchmarks/RESULTS-spine.md). Only ids made in
    the same millisecond can collide: one chance in about 560 million for a thousand of them in one millisecond;
    random enough that a Mastodon Idempotency-Key never repeats."""
    return f"{prefix}-{time.time_ns() // 1_000_000:011x}{secrets.token_hex(6)}"


def _system_clock() -> datetime:
    return datetime.now(UTC)


_clock: Callable[[], datetime] = _system_clock


def utcnow() -> datetime:
    """The store's time: every state change and decision reads it here, so a test can drive time step by step."""
    return _clock()


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Replace the clock (a deterministic test); ``None`` restores the system clock."""
    global _clock
    _clock = clock or _system_clock


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


T = TypeVar("T")


class _Job:
    __slots__ = ("work", "result", "error", "done")

    def __init__(self, work: Callable[[Connection], Any]) -> None:
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False


class Store:
    """``driver_only``: on a plain SQLite file URL, ``tx`` and ``read`` hand out ``lightdb.DriverConnection``s on
    the stdlib driver and SQLAlchemy is never imported (the CLI's post and ticket commands, whose statements all run
    through ``publisher.rawsql``); ``engine`` is still there, made on first use. Elsewhere it changes nothing.
    A driver-only store has one connection: use it from one thread (the CLI), as workers never do."""

    def __init__(self, url: str, *, migrate: bool = True, driver_only: bool = False) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        db_path = self.url.split("///", 1)[-1] if self.is_sqlite else ""
        self._raw: sqlite3.Connection | None = None
        self._file = db_path if _plain_sqlite_file(self.url) else ""  # a plain SQLite file's path
        self._raw_path = self._file if driver_only and self._file else None
        if self.is_sqlite and self._raw_path is None and _in_memory(self.url):
            raise ConfigError("the database URL names an in-memory SQLite database: every post would be lost on exit",
                              hint="use a file, e.g. PUBLISHER_DATABASE_URL=sqlite:////var/lib/publisher/publisher.sqlite, "
                                   "or unset it for the default in PUBLISHER_HOME")
        self._engine_made: Engine | None = None
        if self._raw_path is None:
            self._engine_made = self._engine()
        # SQLite allows one writer; threads of one process queue on this lock instead of SQLite's busy handler,
        # whose sleep-and-retry backoff (up to 100 ms a step) would dominate publish latency.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._leader_lock = threading.Lock()
        self._file_lock = ProcessFileLock(f"{db_path}.writelock" if db_path and db_path != ":memory:" else None)
        self._pending_lock = threading.Lock()
        self._pending: list[_Job] = []
        if migrate:
            self.migrate()

    @property
    def engine(self) -> Engine:
        if self._engine_made is None:
            self._engine_made = self._engine()
        return self._engine_made

    def _driver(self) -> sqlite3.Connection | None:
        """The driver-only store's sqlite3 connection (opened on first use), or None for an engine store."""
        if self._raw_path is None:
            return None
        if self._raw is None:
            from publisher import lightdb

            self._prepare_dir(self._raw_path)
            self._raw = lightdb.connect(self._raw_path)
        return self._raw

    def _prepare_dir(self, path: str) -> None:
        from pathlib import Path

        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ConfigError(f"the data directory {Path(path).parent} (or a folder above it) is a file",
                              hint="set PUBLISHER_HOME to a directory (it holds the database)") from None
        except OSError as e:
            raise ConfigError(f"cannot create the data directory {Path(path).parent}: {e.strerror}",
                              hint="set PUBLISHER_HOME to a directory you can write (it holds the database)") from None
        from publisher import trust

        trust.prepare_sqlite(Path(path))  # a shared (setgid) directory gets group-writable files; else refuse clearly

    def _engine(self) -> Engine:
        from sqlalchemy import create_engine, event

        if not self.is_sqlite:
            try:
                # prepare_threshold 0: psycopg prepares a statement on its first run on a connection, not its
                # sixth, so the server parses each of the hot path's few statements once a connection, not on each
                # of its first six runs on each of a pool's 30 connections: 0.1 s of the server's ~1 s in the
                # 10,000 burst (benchmarks/RESULTS-scale.md). The price: one more round trip at a first run.
                engine = create_engine(self.url, pool_size=10, max_overflow=20, connect_args={"prepare_threshold": 0},
                                       json_deserializer=_json_loads)
            except Exception as e:  # noqa: BLE001 - driver import or URL errors
                raise ConfigError(f"cannot use database URL: {type(e).__name__}",
                                  hint="PUBLISHER_DATABASE_URL must look like postgresql://host:5432/db") from None
            _ping_when_idle(engine)
            return engine
        self._prepare_dir(self.url.split("///", 1)[-1])
        engine = create_engine(self.url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            from publisher.lightdb import PRAGMAS

            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            for pragma in PRAGMAS:
                cur.execute(pragma)
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            readonly = conn.get_execution_options().get("publisher_readonly", False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine

    # -- schema --

    def current_revision(self) -> str | None:
        raw = self._driver_revision()
        if not isinstance(raw, bool):
            return raw
        from sqlalchemy import text
        from sqlalchemy.exc import OperationalError, ProgrammingError

        with _opening(self.url), self.engine.connect() as conn:
            try:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except (OperationalError, ProgrammingError):
                return None  # a new, empty database

    def _driver_revision(self) -> str | None | bool:
        """The revision read on the driver-only connection; False when there is none, or the file cannot be read
        that way: the engine then reads it again and reports any problem as it always does."""
        if self._raw_path is None:
            return False
        import sqlite3

        try:
            from publisher import lightdb

            raw = self._driver()
            assert raw is not None
            return lightdb.revision(raw)
        except sqlite3.Error:
            self._close_driver()
            self._raw_path = None  # from now on, the engine: it names the problem (not a database, permissions)
            return False

    def _close_driver(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def migrate(self) -> None:
        """Bring the schema to head with Alembic; a no-op costing one query when already there. Raises ConfigError
        with the fix when the database cannot be opened, is not one, or is at a revision this version does not know.
        A SQLite file not yet in WAL mode is opened under the file lock: its first connection converts it, and two
        processes converting at once deadlock, which SQLite answers "database is locked" without waiting."""
        if self._file and _converts_to_wal(self._file):
            self._prepare_dir(self._file)
            with _opening(self.url), self._file_lock.hold():
                self._migrate(held=True)
            return
        self._migrate(held=False)

    def _migrate(self, *, held: bool) -> None:
        revision = self.current_revision()
        if revision == SCHEMA_HEAD:
            return
        from publisher.migrations import known_revisions, upgrade

        if revision is not None and revision not in known_revisions():
            raise ConfigError(f"the database is at schema revision {str(revision)[:40]!r}, which this version of "
                              f"publisher does not know (it knows up to {SCHEMA_HEAD})",
                              hint="run the publisher version that created it, or restore a backup")
        lock = nullcontext() if held else self._file_lock.hold()
        with _opening(self.url), lock:  # SQLite: processes opening a new file migrate in turn
            if self.current_revision() != SCHEMA_HEAD:  # another process may have migrated while we waited
                upgrade(self.engine)

    # -- transactions --

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """A write transaction. On SQLite it holds the single write lock for its whole life; on PostgreSQL only the
        row locks its statements take, and one audit stream's head from its flush to COMMIT."""
        raw = self._driver()
        if raw is not None:
            from publisher import lightdb

            assert self._write_lock is not None
            with self._write_lock, self._file_lock.hold(), lightdb.transaction(raw, readonly=False) as light:
                with audit.queued(light):  # type: ignore[arg-type]
                    yield light  # type: ignore[misc]
            return
        if self._write_lock is not None:
            with self._write_lock, self._file_lock.hold(), self.engine.begin() as conn, audit.queued(conn):
                yield conn
            return
        with self.engine.begin() as conn, audit.queued(conn):
            yield conn

    def grouped(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(conn)`` in a write transaction shared with other threads' concurrent ``grouped`` calls (group
        commit): one BEGIN, audit-chain lock and COMMIT for a whole batch instead of one each. Returns once the batch
        has committed, so the caller can rely on its change being durable. ``work`` must only touch the database:
        if any job in a batch fails, the batch rolls back and each job runs again in a transaction of its own, so
        the failure reaches only its own caller."""
        job = _Job(work)
        with self._pending_lock:
            self._pending.append(job)
        with self._leader_lock:
            if not job.done:
                with self._pending_lock:
                    jobs, self._pending = self._pending, []
                self._run_batch(jobs)
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    def _run_batch(self, jobs: list[_Job]) -> None:
        try:
            with self.tx() as conn:
                results = [j.work(conn) for j in jobs]
        except Exception:  # noqa: BLE001 - isolate the failing job: rerun each alone
            results = None
        for i, j in enumerate(jobs):
            if results is not None:
                j.result = results[i]
            else:
                try:
                    with self.tx() as conn:
                        j.result = j.work(conn)
                except Exception as e:  # noqa: BLE001 - handed to the job's own caller
                    j.error = e
            j.done = True

    @contextmanager
    def read(self) -> Iterator[Connection]:
        raw = self._driver()
        if raw is not None:
            from publisher import lightdb

            with lightdb.transaction(raw, readonly=True) as light:
                yield light  # type: ignore[misc]
            return
        if self.is_sqlite:
            with self.engine.connect().execution_options(publisher_readonly=True) as conn, conn.begin():
                yield conn
            return
        with self.engine.connect() as conn:
            yield from _autocommit(conn)

    def dispose(self) -> None:
        self._close_driver()
        if self._engine_made is not None:
            self._engine_made.dispose()


def _autocommit(conn: Connection) -> Iterator[Connection]:
    """A PostgreSQL read's connection in autocommit: each statement is its own transaction, without the BEGIN and
    COMMIT round trips of a transaction around it. Under READ COMMITTED (the default, which the store never
    changes) each statement of a transaction takes a snapshot of its own anyway, so reads see what they saw before.
    The connection goes back to the pool out of autocommit, or is discarded when it cannot be."""
    from psycopg.pq import TransactionStatus

    raw: Any = conn.connection.driver_connection
    raw.autocommit = True
    try:
        yield conn
    finally:
        if not raw.closed and raw.info.transaction_status == TransactionStatus.IDLE:
            raw.autocommit = False
        else:
            conn.invalidate()


def _json_loads(data: bytes) -> Any:
    """psycopg's JSON columns: decoded as the UTF-8 PostgreSQL sends, then parsed. ``json.loads`` on bytes first
    guesses their encoding, which doubled the cost of each value (2.4 against 1.3 us): a worker's read of a
    message parses three JSON values a delivery."""
    return json.loads(data.decode())


#: a pooled PostgreSQL connection is pinged before use only when it has sat in the pool this long (``_ping_when_idle``)
PING_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only when it has sat unused for ``PING_IDLE_SECONDS``; one that fails
    is replaced before anyone uses it (SQLAlchemy's documented pessimistic-disconnect recipe: the pool retries the
    checkout with a new connection). ``pool_pre_ping`` pinged on every checkout, four a broker message: an empty
    statement with autocommit switched on and off around it, 109 us of client and 72 us of server CPU on the
    benchmarks' machine, more than a prepared ``SELECT 1`` (benchmarks/RESULTS-scale.md, 2026-12-06 13:40). A
    connection used within the last second was alive then; one the server dropped since fails its statement, and
    SQLAlchemy then discards every connection pooled before the failure."""
    from sqlalchemy import event, exc

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_IDLE_SECONDS:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as e:  # noqa: BLE001 - any failure: replace the connection (the new one reports real trouble)
            raise exc.DisconnectionError(f"pooled connection failed its ping: {type(e).__name__}") from None


def lock_keys(conn: Connection, *keys: str) -> None:
    """Serialise transactions that read and then write by a key (an idempotency key, a thread) until COMMIT: on
    PostgreSQL a transaction-scoped advisory lock per key, taken in sorted order (no deadlock between two
    transactions taking the same keys); SQLite already runs one write transaction at a time."""
    if rawsql.dialect_of(conn).sqlite:
        return
    for k in sorted(set(keys)):
        rawsql.fetch_one(conn, "SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (k,))


def _converts_to_wal(path: str) -> bool:
    """Whether the first connection to this file converts it to WAL: it is missing or empty, or it is a SQLite
    database whose header (bytes 18 and 19) says another journal mode. Anything else (not a database, unreadable)
    is left to the connection, which reports it and changes nothing."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not head:
        return True
    return head.startswith(b"SQLite format 3\x00") and head[18:20] != b"\x02\x02"


def _plain_sqlite_file(url: str) -> bool:
    """``sqlite:///<path>`` naming a file, with no query options (the default store): what ``lightdb`` opens."""
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
    return bool(path) and "?" not in url and path != ":memory:" and not path.startswith("file:")


def _in_memory(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:  # noqa: BLE001 - any unparsable URL: let create_engine report it
        return False
    return u.database in (None, "", ":memory:") or "mode=memory" in url


@contextmanager
def _opening(url: str) -> Iterator[None]:
    """Turn the errors of opening a database into ConfigError naming the fix (never the password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError, OperationalError

    try:
        yield
    except DBAPIError as e:
        shown = make_url(url).render_as_string(hide_password=True)
        reason = str(e.orig).splitlines()[0] if e.orig is not None else type(e).__name__
        if url.startswith("sqlite"):
            if "not a database" in reason:
                raise ConfigError(f"{shown} is not a SQLite database", hint="point PUBLISHER_DATABASE_URL (or "
                                  "PUBLISHER_HOME) at publisher's database, or move that file away") from None
            raise ConfigError(f"cannot open the database {shown}: {reason}", hint="check that PUBLISHER_HOME is a "
                              "directory you can write, and the database file is yours") from None
        if e.connection_invalidated or isinstance(e, OperationalError):
            raise ConfigError(f"cannot connect to the database {shown}",
                              hint="check that the server runs and PUBLISHER_DATABASE_URL (host, port, user, "
                                   "password, database) is right") from None
        raise ConfigError(f"cannot open the database {shown}: {type(e.orig).__name__}",
                          hint="check PUBLISHER_DATABASE_URL and the database's permissions") from None
    except OSError as e:
        raise ConfigError(f"cannot open the database: {e.strerror}", hint="check PUBLISHER_HOME and its permissions") from None


# -- queries and conditional transitions (each takes the caller's connection) --


# The hot path's reads and transitions run as plain SQL on the driver (publisher.rawsql): SQLAlchemy's
# per-statement machinery cost more than SQLite itself there (benchmarks/RESULTS-spine.md).
_BY_ACCOUNT_PART = "account, part"


def get_delivery(conn: Connection, delivery_id: str) -> dict[str, Any] | None:
    rows = rawsql.select_where_in(conn, "deliveries", "id", [delivery_id])
    return rows[0] if rows else None


def get_post(conn: Connection, post_id: str) -> dict[str, Any] | None:
    rows = rawsql.select_where_in(conn, "posts", "id", [post_id])
    return rows[0] if rows else None


def deliveries_of(conn: Connection, post_id: str) -> list[dict[str, Any]]:
    return rawsql.select_where_in(conn, "deliveries", "post_id", [post_id], order_by=_BY_ACCOUNT_PART)


def get_deliveries(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The deliveries with these ids (one query), by id; ids not found are absent."""
    return {r["id"]: r for r in rawsql.select_where_in(conn, "deliveries", "id", list(ids))}


def get_posts(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in rawsql.select_where_in(conn, "posts", "id", list(ids))}


def with_siblings(conn: Connection, ids: Sequence[str]) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The deliveries with these ids, by id, and every delivery of their posts, by post id in the order
    ``deliveries_of`` gives: ``get_deliveries`` and ``deliveries_of_posts`` in one statement, which reads each
    delivery once (a worker's read of a message; the posts' deliveries include the message's own)."""
    if not ids:
        return {}, {}
    keys = list(dict.fromkeys(ids))
    d = rawsql.dialect_of(conn)
    sql, params = (_siblings_sql(True, len(keys)), keys) if d.sqlite else (_siblings_sql(False, 0), [keys])
    with closing(rawsql.cursor(conn)) as cur:
        cur.execute(sql, params)
        rows = d.rows("deliveries", cur.fetchall())
    family: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        family.setdefault(r["post_id"], []).append(r)
    wanted = set(keys)
    return {r["id"]: r for r in rows if r["id"] in wanted}, family


@functools.lru_cache(maxsize=64)
def _siblings_sql(sqlite: bool, n: int) -> str:
    """``with_siblings``'s statement: on SQLite for ``n`` ids; on PostgreSQL (any ``n``: one array parameter) each
    id and then each post an index probe, as ``rawsql.probe_sql``. Written out, not built from ``probe_sql`` twice:
    the first probe needs only ``post_id``, and reading whole rows there cost the server more in the 10,000 burst
    (0.87-1.04 s against 0.83-0.89 s, three pairs)."""
    cols = ", ".join(name for name, _ in rawsql.COLUMNS["deliveries"])
    if sqlite:
        return (f"SELECT {cols} FROM deliveries WHERE post_id IN (SELECT post_id FROM deliveries WHERE id IN "
                f"({', '.join('?' * n)})) ORDER BY {_BY_ACCOUNT_PART}")
    return ("SELECT t.* FROM (SELECT DISTINCT d.post_id FROM unnest(%b::text[]) AS k(v) CROSS JOIN LATERAL "
            "(SELECT post_id FROM deliveries WHERE id = k.v OFFSET 0) AS d) AS p CROSS JOIN LATERAL "
            f"(SELECT {cols} FROM deliveries WHERE deliveries.post_id = p.post_id OFFSET 0) AS t "
            "ORDER BY t.account, t.part")


def deliveries_of_posts(conn: Connection, post_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Every delivery of each post (one query), by post id, in the order ``deliveries_of`` gives."""
    out: dict[str, list[dict[str, Any]]] = {p: [] for p in post_ids}
    for r in rawsql.select_where_in(conn, "deliveries", "post_id", list(post_ids), order_by=_BY_ACCOUNT_PART):
        out[r["post_id"]].append(r)
    return out


Shape = tuple[tuple[str, ...], bool, tuple[str, ...], str]


def _shape_columns(columns: tuple[str, ...], by_attempt: bool) -> list[str]:
    """The parameters of one move of a shape, in the order the multi-row statement takes them."""
    return ["_id", "v_state", "v_updated_at", *(f"v_{c}" for c in columns), *(["_attempt"] if by_attempt else [])]


def _update_sql(ref: dict[str, str], columns: tuple[str, ...], by_attempt: bool, from_states: tuple[str, ...],
                source: str = "") -> str:
    """``UPDATE deliveries SET state, updated_at, columns... [FROM source] WHERE id = ? AND state IN from_states
    [AND attempt_id = ?]``, each value taken from ``ref`` (a parameter, or a column of ``source``). The states
    are literals of the State enum."""
    sets = ", ".join(f"{c} = {ref['v_' + c]}" for c in ("state", "updated_at", *columns))
    if "_seq" in ref:  # PostgreSQL: the audit event's global seq, taken after the row's lock (``apply``)
        sets += f", audit_seq = {ref['_seq']}"
    # ``state || ''``: the row is found by its id, never through an index on state. Planner statistics about
    # state are stale by nature (a burst moves thousands of rows from scheduled to queued in a second); with
    # statistics that say no row is queued, PostgreSQL would otherwise find "id = x AND state = 'queued'" by
    # scanning every queued row of ix_deliveries_state_due, once per delivery (benchmarks/RESULTS-scale.md)
    states = " OR ".join(f"(deliveries.state || '') = '{State(s).value}'" for s in from_states)
    where = f"deliveries.id = {ref['_id']} AND ({states})"
    if by_attempt:
        where += f" AND deliveries.attempt_id = {ref['_attempt']}"
    return f"UPDATE deliveries SET {sets}{source} WHERE {where}"


@functools.cache
def _transition_sql(sqlite: bool, columns: tuple[str, ...], by_attempt: bool, from_states: tuple[str, ...]) -> str:
    """One move, with named parameters: serves executemany and single rows."""
    d = rawsql.dialect(sqlite)
    ref = {n: d.param(n) for n in _shape_columns(columns, by_attempt)}
    if not sqlite:
        ref["_seq"] = "nextval('audit_global_seq')"
    return _update_sql(ref, columns, by_attempt, from_states)


#: PostgreSQL types of the VALUES columns of ``_update_values_sql``, by the deliveries column they set (the rest
#: are text, which every character column takes)
_PG_TYPES = {"dt": "timestamp", "json": "json", "part": "integer", "attempts": "integer", "audit_seq": "integer"}


def _pg_type(name: str) -> str:
    column = name[2:] if name.startswith("v_") else name
    kind = dict(rawsql.COLUMNS["deliveries"]).get(column, "")
    return _PG_TYPES.get(kind) or _PG_TYPES.get(column) or "text"


@functools.lru_cache(maxsize=256)
def _update_values_sql(columns: tuple[str, ...], by_attempt: bool, from_states: tuple[str, ...], n: int,
                       sqlite: bool) -> str:
    """The ``n`` moves of one shape as one ``UPDATE ... FROM (VALUES ...)`` statement, with positional parameters
    (``_shape_columns`` of each move in turn). On SQLite one step (see ``rawsql.MULTI_ROW``); it must start with
    UPDATE: Python's sqlite3 reports a rowcount only for statements that do. On PostgreSQL each row takes a new
    global audit seq as it is updated, and the first row's values are cast to their columns' types (a column of
    NULLs or of ``unknown`` strings would otherwise be text). One statement instead of one execution per move in
    a pipelined executemany, whose client side (a result to wait for and fetch per row) was most of a worker's
    database time in a burst (benchmarks/RESULTS-scale.md)."""
    names = _shape_columns(columns, by_attempt)
    if sqlite:
        values = ", ".join([f"({', '.join('?' * len(names))})"] * n)
    else:  # numbered parameters ($1...): psycopg's RawCursor sends them as they are (``rawsql.raw_rows``)
        casts = [f"::{_pg_type(name)}" for name in names]
        rows = ((f"${r * len(names) + i + 1}{casts[i] if r == 0 else ''}" for i in range(len(names))) for r in range(n))
        values = ", ".join(f"({', '.join(row)})" for row in rows)
    ref = {name: f"v.column{i}" for i, name in enumerate(names, 1)}  # a VALUES table's columns are column1...
    if not sqlite:
        ref["_seq"] = "nextval('audit_global_seq')"
    return _update_sql(ref, columns, by_attempt, from_states, f" FROM (VALUES {values}) AS v")


@dataclass
class Transition:
    """Move ``delivery`` to ``to`` if it is still in one of ``frm`` (and, given ``attempt_id``, still that attempt's)."""

    delivery: dict[str, Any]
    frm: list[State]
    to: State
    action: str
    values: dict[str, Any] | None = None
    details: dict[str, Any] | None = None
    attempt_id: str | None = None

    def _key(self) -> Shape:
        return tuple(sorted(self.values or {})), self.attempt_id is not None, tuple(s.value for s in self.frm), self.to.value

    def _params(self, now_db: Any, binders: dict[str, rawsql.Convert]) -> dict[str, Any]:
        params: dict[str, Any] = {"_id": self.delivery["id"], "v_state": self.to.value, "v_updated_at": now_db}
        for k, v in (self.values or {}).items():
            if k == "last_error" and v:
                v = redact(v)  # platform text, already redacted where it was raised (ChannelError): a second net
            params[f"v_{k}"] = binders[k](v)
        if self.attempt_id is not None:
            params["_attempt"] = self.attempt_id
        return params

    def _event(self) -> audit.Event:
        d = self.delivery
        return audit.Event(self.action, post_id=d["post_id"], delivery_id=d["id"], account=d["account"],
                           details={"from": d["state"], "to": self.to.value, **(self.details or {})})


def transition(
    conn: Connection,
    actor: str,
    delivery: dict[str, Any],
    from_states: Sequence[State],
    to_state: State,
    action: str,
    values: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    attempt_id: str | None = None,
) -> bool:
    """Move ``delivery`` to ``to_state`` if it is still in one of ``from_states`` (and, given ``attempt_id``, still
    that attempt's); audit it. True if it moved."""
    t = Transition(delivery, list(from_states), to_state, action, values, details, attempt_id)
    return transitions(conn, actor, [t])[0]


def transitions(conn: Connection, actor: str, moves: Sequence[Transition]) -> list[bool]:
    """``transition`` for many deliveries at once, each still conditional: which of them moved, in order; their
    audit events are appended in that order. Moves of the same shape run as one statement that returns the ids it
    moved, so every answer is exact (see ``apply``)."""
    return apply(conn, prepare(actor, moves, rawsql.dialect_of(conn).sqlite))


@dataclass
class Prepared:
    """Transitions made ready outside the write lock (``prepare``): statements, parameters and rendered audit
    events, so the transaction that runs them (``apply``) holds the lock only for the database work and the hash
    chain."""

    moves: list[Transition]
    shapes: list[tuple[list[int], str, str | None, list[dict[str, Any]], tuple[Any, ...]]]
    events: list[audit.Pending]


_RETURNING = " RETURNING deliveries.id"


def prepare(actor: str, moves: Sequence[Transition], sqlite: bool) -> Prepared:
    d = rawsql.dialect(sqlite)
    binders = d.binders("deliveries")
    now_db = binders["updated_at"](utcnow())
    by_shape: dict[Shape, list[int]] = {}
    for i, m in enumerate(moves):
        by_shape.setdefault(m._key(), []).append(i)
    shapes = []
    for (columns, by_attempt, frm, _to), idx in by_shape.items():
        params = [moves[i]._params(now_db, binders) for i in idx]
        many, flat = None, ()
        if 1 < len(idx) <= rawsql.MAX_ROWS and (rawsql.MULTI_ROW or not sqlite):
            names = _shape_columns(columns, by_attempt)
            # on PostgreSQL by id: transactions that move overlapping deliveries take their row locks in one order
            rows = params if sqlite else sorted(params, key=lambda p: str(p["_id"]))
            many = _update_values_sql(columns, by_attempt, frm, len(idx), sqlite)
            flat = tuple(p[k] for p in rows for k in names)
        shapes.append((idx, _transition_sql(sqlite, columns, by_attempt, frm), many, params, flat))
    return Prepared(list(moves), shapes, [audit.pending(actor, m._event()) for m in moves])


def apply(conn: Connection, prepared: Prepared) -> list[bool]:
    """Run prepared transitions in ``conn``'s write transaction: which moved, in order (see ``transitions``).
    A shape of several moves is one statement (or one pipelined executemany) that returns the ids it moved;
    where the database cannot return them (SQLite before 3.35), it runs in a savepoint that is rolled back to
    move one by one if any did not apply."""
    moved = [False] * len(prepared.moves)
    sqlite = rawsql.dialect_of(conn).sqlite
    if not sqlite:
        return _apply_pg(conn, prepared, moved)
    for idx, one, many, params, flat in prepared.shapes:
        ids = [prepared.moves[i].delivery["id"] for i in idx]
        if len(idx) > 1 and rawsql.RETURNING[sqlite] and len(set(ids)) == len(ids):
            done = (rawsql.returning(conn, many + _RETURNING, [flat]) if many is not None
                    else rawsql.returning(conn, one + _RETURNING, params))
            for i, delivery_id in zip(idx, ids, strict=True):
                moved[i] = delivery_id in done
            continue
        if len(idx) > 1:
            rawsql.execute(conn, "SAVEPOINT publisher_moves")
            changed = (rawsql.execute_many(conn, many, [flat]) if many is not None
                       else rawsql.execute_many(conn, one, params))
            if changed != len(idx):
                rawsql.execute(conn, "ROLLBACK TO SAVEPOINT publisher_moves")
            rawsql.execute(conn, "RELEASE SAVEPOINT publisher_moves")
            if changed == len(idx):
                for i in idx:
                    moved[i] = True
                continue
        for i, p in zip(idx, params, strict=True):
            moved[i] = rawsql.execute_many(conn, one, [p]) == 1
    audit.append_pending(conn, [e for e, ok in zip(prepared.events, moved, strict=True) if ok], utcnow())
    return moved


def _apply_pg(conn: Connection, prepared: Prepared, moved: list[bool]) -> list[bool]:
    """``apply`` on PostgreSQL: each UPDATE also sets the row's ``audit_seq`` to a new global seq, taken once it
    holds the row's lock, and returns it; the row's audit event takes that seq (``audit.Pending.seq``). The anchor
    is then part of the state change: one row version, not two (the flush anchors only events numbered there)."""
    seqs: list[int | None] = [None] * len(prepared.moves)
    for idx, one, many, params, flat in prepared.shapes:
        ids = [prepared.moves[i].delivery["id"] for i in idx]
        sql = one + _RETURNING + ", deliveries.audit_seq"
        if len(set(ids)) == len(ids):  # one statement for the shape; a row that moved returns its id
            got = dict(rawsql.raw_rows(conn, many + _RETURNING + ", deliveries.audit_seq", flat)
                       if many is not None else rawsql.returning_rows(conn, sql, params))
            for i, delivery_id in zip(idx, ids, strict=True):
                if delivery_id in got:
                    moved[i], seqs[i] = True, int(got[delivery_id])
            continue
        for i, p in zip(idx, params, strict=True):  # the same delivery twice: one at a time, in order
            row = rawsql.returning_rows(conn, sql, [p])
            if row:
                moved[i], seqs[i] = True, int(row[0][1])
    # in the order of their seqs: one statement numbers its rows in the order it updates them, not the moves' order
    numbered = sorted(((q, e) for e, ok, q in zip(prepared.events, moved, seqs, strict=True) if ok and q is not None),
                      key=lambda qe: qe[0])
    audit.append_pending(conn, [e._replace(seq=q) for q, e in numbered], utcnow())
    return moved


@functools.lru_cache(maxsize=8)
def due_query(batch: int, sqlite: bool) -> Select[tuple[str]]:
    """The ids of the first ``batch`` deliveries due by the bind parameter ``until`` (scheduled or waiting to
    retry) whose thread predecessor is done, in due order; on PostgreSQL locked as they are read, skipping rows
    another claim holds.

    Each state is read on its own, ``state = s ORDER BY due_at LIMIT batch``, and the two are merged: that is an
    ordered walk of ``ix_deliveries_state_due`` that stops after ``batch`` rows, whatever the planner's statistics
    say. With ``state IN (scheduled, retry_wait)`` the index cannot give the due order, and with statistics taken
    when every row was scheduled (ANALYZE after an import) PostgreSQL read the whole table and sorted it on every
    tick, also once the burst had been claimed and nothing was due: 15 ms an empty tick at 100,000 rows against
    0.7 ms now, growing with the table. With many rows due in both states it sorted them all whatever the
    statistics: 27-30 ms a claim of 2,000 from 50,000, 5 ms now (benchmarks/RESULTS-scale.md). Rows of a branch
    the merge leaves out stay locked only until the claim's transaction ends.

    Built once per (batch, backend) and reused: ``until`` is a bind parameter. Building it anew on every tick took
    ~2 ms, which was most of an idle scheduler's CPU at four ticks a second (benchmarks/RESULTS-scale.md)."""
    from sqlalchemy import bindparam, or_, select, union_all

    from publisher.schema import deliveries
    prev = deliveries.alias("prev")
    until = bindparam("until", type_=deliveries.c.due_at.type)
    done = [State.PUBLISHED.value, State.CANCELLED.value, State.EXPIRED.value]

    def branch(state: State) -> CTE:
        q = (
            select(deliveries.c.id, deliveries.c.due_at)
            .select_from(deliveries.outerjoin(prev, prev.c.id == deliveries.c.prev_id))
            .where(deliveries.c.state == state.value, deliveries.c.due_at <= until,
                   or_(deliveries.c.prev_id.is_(None), prev.c.state.in_(done)))
            .order_by(deliveries.c.due_at)
            .limit(batch)
        )
        if not sqlite:
            q = q.with_for_update(skip_locked=True, of=deliveries)
        return q.cte(f"due_{state.value}")

    ready, retry = branch(State.SCHEDULED), branch(State.RETRY_WAIT)
    both = union_all(select(ready.c.id, ready.c.due_at), select(retry.c.id, retry.c.due_at)).subquery("due")
    return select(both.c.id).order_by(both.c.due_at, both.c.id).limit(batch)


def claim_due(conn: Connection, actor: str, now: datetime, horizon: timedelta, batch: int) -> list[dict[str, Any]]:
    """Claim deliveries due within ``horizon`` whose thread predecessor is done: scheduled|retry_wait -> queued.
    On PostgreSQL the due rows are locked as they are read, skipping rows another scheduler's claim holds, so two
    schedulers claim disjoint batches instead of queueing on each other's rows; the UPDATE stays conditional."""
    from sqlalchemy import text, update

    from publisher.schema import deliveries
    sqlite = rawsql.dialect_of(conn).sqlite
    ids = [r[0] for r in conn.execute(due_query(batch, sqlite), {"until": now + horizon})]
    if not ids:
        return []
    values: dict[str, Any] = dict(state=State.QUEUED.value, enqueued_at=now, updated_at=now)
    if not sqlite:  # the anchor in the same row version, as ``apply`` does: the event takes this seq
        values["audit_seq"] = text("nextval('audit_global_seq')")
    res = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(ids), deliveries.c.state.in_([State.SCHEDULED.value, State.RETRY_WAIT.value]))
        .values(**values)
        .returning(deliveries.c.id, deliveries.c.post_id, deliveries.c.account, deliveries.c.channel, deliveries.c.due_at,
                   deliveries.c.audit_seq)
    )
    rows = [dict(r) for r in res.mappings()]
    claimed = sorted(rows, key=lambda c: (c["due_at"], c["id"]))

    def event(c: dict[str, Any]) -> audit.Pending:
        ev = audit.pending(actor, audit.Event("queued", post_id=c["post_id"], delivery_id=c["id"], account=c["account"],
                                              details={"to": "queued", "due_at": c["due_at"].isoformat()}))
        return ev if sqlite else ev._replace(seq=int(c["audit_seq"]))

    # the events in the order of their seqs (on SQLite, of the claim: the seqs are taken when they are written)
    audit.append_pending(conn, [event(c) for c in (claimed if sqlite else sorted(rows, key=lambda c: c["audit_seq"]))],
                         now)
    for c in claimed:
        del c["audit_seq"]
    return claimed


def set_message_ids(conn: Connection, ids: dict[str, str]) -> None:
    from sqlalchemy import bindparam, update

    from publisher.schema import deliveries
    if ids and not rawsql.dialect_of(conn).sqlite:  # one statement, not one execution per delivery
        rawsql.execute_many(conn, "UPDATE deliveries SET message_id = v.mid FROM unnest(%b::text[], %b::text[]) "
                                  "AS v(id, mid) WHERE deliveries.id = v.id", [(list(ids), list(ids.values()))])
    elif ids:
        stmt = update(deliveries).where(deliveries.c.id == bindparam("_id")).values(message_id=bindparam("_mid"))
        conn.execute(stmt, [{"_id": k, "_mid": v} for k, v in ids.items()])


def stale_queued(conn: Connection, now: datetime, lost_after: timedelta, limit: int = 1000) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from publisher.schema import deliveries
    q = (
        select(deliveries.c.id, deliveries.c.channel, deliveries.c.message_id, deliveries.c.due_at)
        .where(deliveries.c.state == State.QUEUED.value, deliveries.c.due_at <= now - lost_after,
               deliveries.c.enqueued_at <= now - lost_after)
        .order_by(deliveries.c.due_at).limit(limit)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def touch_enqueued(conn: Connection, ids: dict[str, str | None], now: datetime) -> set[str]:
    """Of these deliveries (id -> message id), the ones still ``queued``, given the message id and ``now`` as
    enqueued_at: one statement for all of them."""
    if not ids:
        return set()
    from sqlalchemy import bindparam, select, update

    from publisher.schema import deliveries

    sqlite = rawsql.dialect_of(conn).sqlite
    if sqlite and not rawsql.RETURNING[True]:  # SQLite before 3.35; its single writer makes the read exact
        still = {r[0] for r in conn.execute(select(deliveries.c.id).where(
            deliveries.c.id.in_(list(ids)), deliveries.c.state == State.QUEUED.value))}
        ids = {k: v for k, v in ids.items() if k in still}
    stmt = (update(deliveries)
            .where(deliveries.c.id == bindparam("_id"), deliveries.c.state == State.QUEUED.value)
            .values(enqueued_at=now, message_id=bindparam("_mid")))
    if sqlite and not rawsql.RETURNING[True]:
        if ids:
            conn.execute(stmt, [{"_id": k, "_mid": v} for k, v in ids.items()])
        return set(ids)
    moved = conn.execute(update(deliveries)
                         .where(deliveries.c.id.in_(list(ids)), deliveries.c.state == State.QUEUED.value)
                         .values(enqueued_at=now, message_id=None).returning(deliveries.c.id))
    done = {r[0] for r in moved}
    named = {k: v for k, v in ids.items() if k in done and v is not None}
    if named:
        conn.execute(stmt, [{"_id": k, "_mid": v} for k, v in named.items()])
    return done


def expired_leases(conn: Connection, now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from publisher.schema import deliveries
    q = select(deliveries).where(deliveries.c.state.in_([State.PUBLISHING.value, State.RECONCILING.value]),
                                 deliveries.c.lease_until < now).limit(limit)
    return [dict(r) for r in conn.execute(q).mappings()]


def due_unknown(conn: Connection, now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from publisher.schema import deliveries
    q = select(deliveries).where(deliveries.c.state == State.UNKNOWN.value, deliveries.c.due_at <= now).limit(limit)
    return [dict(r) for r in conn.execute(q).mappings()]


#: a thread predecessor in one of these states stops its successors until it is published, cancelled or expired
STOPPING = (State.FAILED, State.HELD, State.UNKNOWN, State.RECONCILING, State.PENDING_APPROVAL)
HELD_BEHIND = "held_behind"


def behind_text(pred: dict[str, Any]) -> str:
    """What a successor held behind ``pred`` says: which delivery stops the thread, why, and what to do."""
    state = State(pred["state"])
    if state == State.HELD and (pred.get("last_error") or "").startswith("waiting behind "):
        return f"waiting behind {pred['id']}, itself {pred['last_error']}"
    if state == State.PENDING_APPROVAL:
        return (f"waiting behind {pred['id']}, which waits for approval: an approver runs `publisher approve "
                f"{pred['id']}` (this follows once it is published), or `publisher cancel {pred['id']}` to let this "
                "reply to the last published post instead")
    why = {State.FAILED: "failed", State.HELD: "is held", State.UNKNOWN: "has an unknown outcome",
           State.RECONCILING: "has an unknown outcome"}.get(state, f"is {state.value}")
    todo = ("publisher is looking it up and this resumes by itself" if state in (State.UNKNOWN, State.RECONCILING)
            and not (pred.get("last_error") or "").startswith("outcome unknown and") else
            f"`publisher retry {pred['id']}` to send it again (this follows once it is published), or "
            f"`publisher cancel {pred['id']}` to let this reply to the last published post instead")
    return f"waiting behind {pred['id']}, which {why}: {todo}"


def hold_behind(d: dict[str, Any], frm: State, pred: dict[str, Any]) -> Transition:
    """``d`` (now in ``frm``) held behind its stopped thread predecessor ``pred``, saying why and what to do."""
    return Transition(d, [frm], State.HELD, HELD_BEHIND, values={"last_error": behind_text(pred)},
                      details={"reason": "predecessor", "predecessor": pred["id"], "predecessor_state": pred["state"]})


def nearest_predecessor(conn: Connection, d: dict[str, Any]) -> dict[str, Any] | None:
    """``d``'s nearest thread predecessor that was not cancelled or expired (those are skipped over), or None."""
    prev = get_delivery(conn, d["prev_id"]) if d.get("prev_id") else None
    while prev is not None and State(prev["state"]) in SKIPPABLE:
        prev = get_delivery(conn, prev["prev_id"]) if prev["prev_id"] else None
    return prev


def stalled_successors(conn: Connection, now: datetime, limit: int = 1000) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(successor, predecessor) for every due ``scheduled`` delivery whose thread predecessor stopped (failed, held,
    outcome unknown): without this they would sit ``scheduled`` forever, saying nothing. Due scheduled rows with a
    predecessor are few (everything else due is claimed within a tick), so this reads little."""
    from sqlalchemy import select

    from publisher.schema import deliveries
    prev = deliveries.alias("prev")
    q = (select(deliveries.c.id, prev.c.id.label("p_id"))
         .select_from(deliveries.join(prev, prev.c.id == deliveries.c.prev_id))
         .where(deliveries.c.state == State.SCHEDULED.value, deliveries.c.due_at <= now,
                prev.c.state.in_([s.value for s in STOPPING]))
         .limit(limit))
    pairs = [(r[0], r[1]) for r in conn.execute(q)]
    rows = get_deliveries(conn, [i for pair in pairs for i in pair])
    return [(rows[a], rows[b]) for a, b in pairs if a in rows and b in rows]


def held_behind_released(conn: Connection, limit: int = 1000) -> list[dict[str, Any]]:
    """Deliveries held behind a predecessor that no longer stops them: published, or sent again (``publisher retry``),
    or cancelled or expired with nothing stopped before it: they go back to waiting their turn, and are held again if
    it stops again. The nearest predecessor that is not cancelled or expired decides (held rows are few)."""
    from sqlalchemy import select

    from publisher.schema import deliveries
    q = (select(deliveries.c.id).where(deliveries.c.state == State.HELD.value, deliveries.c.prev_id.is_not(None))
         .limit(limit))
    ids = [r[0] for r in conn.execute(q)]
    why = hold_reasons(conn, ids)
    out = []
    for d in get_deliveries(conn, [i for i in ids if why.get(i) == "predecessor"]).values():
        prev = nearest_predecessor(conn, d)
        if prev is None or State(prev["state"]) not in STOPPING:
            out.append(d)
    return out


def hold_reasons(conn: Connection, delivery_ids: list[str]) -> dict[str, str]:
    """Why each held delivery is held, from the audit event that held it: ``credentials`` (an expired token or a
    credential/configuration problem: ``accounts verify`` may release it), ``tone`` (needs a human or a retry) or
    ``predecessor`` (its thread predecessor stopped; it resumes by itself once that one is published)."""
    from sqlalchemy import func, select

    from publisher.schema import audit_events
    if not delivery_ids:
        return {}
    last = (select(func.max(audit_events.c.seq)).where(audit_events.c.delivery_id.in_(delivery_ids))
            .group_by(audit_events.c.delivery_id))
    rows = conn.execute(select(audit_events.c.delivery_id, audit_events.c.action, audit_events.c.details)
                        .where(audit_events.c.seq.in_(last)))
    out = {}
    for delivery_id, action, details in rows:
        if action == HELD_BEHIND:
            out[delivery_id] = "predecessor"
        elif action == "auth_expired" or (action == "held" and json.loads(details or "{}").get("reason") != "tone"):
            out[delivery_id] = "credentials"
        elif action == "held":
            out[delivery_id] = "tone"
    return out


def counts_by_state(conn: Connection) -> dict[str, int]:
    from sqlalchemy import func, select

    from publisher.schema import deliveries
    q = select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
    return {r[0]: r[1] for r in conn.execute(q)}
