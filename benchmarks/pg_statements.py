"""What one delivery costs on PostgreSQL, statement by statement (RESULTS-scale.md, 2026-12-02 23:37-00:10).

  BENCH_PG=postgresql://127.0.0.1:5432/test python benchmarks/pg_statements.py [N]

N deliveries due now (as ``scale.py burst`` inserts them), the scheduler's ``tick`` until nothing is left, then
``Publisher.handle_many`` over each message it sent, in one thread, with no broker (the sender only records the
messages) and no budget. Counts, by phase: every statement psycopg executed (an executemany counts once per
parameter set: the server runs each), client/server round trips (psycopg ``Connection.wait`` calls), commits; CPU of
the scheduler and worker code, and of the PostgreSQL backends serving them (``/proc``, the server being local).
Then ``audit verify``'s delivery problems and whether every delivery's ``audit_seq`` is its newest event's seq.
Without BENCH_PG it runs on SQLite and counts nothing but CPU. Works against older code (PYTHONPATH at it).
BENCH_ANALYZE=1: ANALYZE after the insert, as autovacuum does after an import (statistics that say every row is
scheduled; RESULTS-scale.md, 2026-12-04 15:40).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from scale import _insert  # noqa: E402
from spine import _home  # noqa: E402

STMTS: Counter[tuple[str, str, str]] = Counter()
COUNTS = {"round trips": 0, "commits": 0}
PHASE = ["setup"]


def _norm(query: Any) -> str:
    q = query.decode() if isinstance(query, bytes) else str(query)
    return re.sub(r"\s+", " ", q)[:150]


def _instrument() -> None:
    import psycopg

    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany
    wait, commit = psycopg.Connection.wait, psycopg.Connection.commit

    def counted_execute(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        STMTS[(PHASE[0], "exec", _norm(query))] += 1
        return execute(self, query, params, **kw)

    def counted_many(self: Any, query: Any, params_seq: Any, **kw: Any) -> Any:
        params_seq = list(params_seq)
        STMTS[(PHASE[0], "many", _norm(query))] += len(params_seq)
        return executemany(self, query, params_seq, **kw)

    def counted_wait(self: Any, gen: Any, *a: Any, **kw: Any) -> Any:
        COUNTS["round trips"] += PHASE[0] != "setup"
        return wait(self, gen, *a, **kw)

    def counted_commit(self: Any) -> Any:
        COUNTS["commits"] += PHASE[0] != "setup"
        return commit(self)

    psycopg.Cursor.execute, psycopg.Cursor.executemany = counted_execute, counted_many  # type: ignore[method-assign]
    psycopg.Connection.wait, psycopg.Connection.commit = counted_wait, counted_commit  # type: ignore[method-assign]


def _server_cpu() -> float:
    """CPU seconds of the backends connected to BENCH_PG's database (other than this query's)."""
    import psycopg

    with psycopg.connect(os.environ["BENCH_PG"], autocommit=True) as c:
        pids = [r[0] for r in c.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                        "AND pid <> pg_backend_pid()")]
    return backend_cpu(pids)


def backend_cpu(pids: Iterable[int]) -> float:
    """CPU seconds (user + system) of these processes so far, from /proc; one that has exited counts nothing."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main(n: int) -> None:
    pg = bool(os.environ.get("BENCH_PG"))
    if pg:
        _instrument()
    from publisher import audit
    from publisher import settings as settings_mod
    from publisher.publishing.runner import Publisher
    from publisher.scheduling import Scheduler
    from publisher.store import Store, counts_by_state

    _home_dir, env = _home()
    s = settings_mod.load(env)
    store = Store(s.database_url)
    _insert(store, s, [("noc", datetime.now(UTC) + timedelta(seconds=1))] * n)
    if os.environ.get("BENCH_ANALYZE") and pg:
        with store.tx() as conn:
            conn.exec_driver_sql("ANALYZE deliveries, posts, audit_events")
    time.sleep(1.2)
    messages: list[list[str]] = []

    def sender(_channel: str, ids: list[str], _delay: int) -> str:
        messages.append(ids)
        return f"m{len(messages)}"

    with store.tx():
        pass  # the pool's first connection is open before the server's CPU is first read
    server0 = _server_cpu() if pg else 0.0
    PHASE[0] = "scheduler"
    t0 = time.process_time()
    scheduler = Scheduler(s, store, sender, lambda _items: set())
    while scheduler.tick():
        pass
    scheduler_cpu = time.process_time() - t0
    PHASE[0] = "worker"
    t0 = time.process_time()
    publisher = Publisher(s, store, sender=sender, budget=None)
    for ids in messages:
        publisher.handle_many(ids)
    worker_cpu = time.process_time() - t0
    PHASE[0] = "setup"
    server = _server_cpu() - server0 if pg else 0.0
    with store.read() as conn:
        states = counts_by_state(conn)
        v = audit.verify(conn)
        anchored = conn.exec_driver_sql(
            "SELECT count(*) FROM deliveries d WHERE audit_seq = (SELECT max(seq) FROM audit_events a "
            "WHERE a.delivery_id = d.id)").scalar()
    print(f"{n} deliveries {states}, {len(messages)} messages: {COUNTS['round trips']} round trips, "
          f"{COUNTS['commits']} commits; CPU: scheduler {scheduler_cpu:.2f} s, worker {worker_cpu:.2f} s, "
          f"database server {server:.2f} s; delivery problems in verify: "
          f"{sum('delivery' in p for p in v.problems)}; anchored at their newest event: {anchored}/{n}")
    for (phase, kind, query), count in sorted(STMTS.items()):
        if phase != "setup":
            print(f"{phase:9} {kind:4} {count:6}  {query}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
