"""What a worker's read costs on PostgreSQL, with the pool's ping and the transaction around it or without.

  BENCH_PG=postgresql://127.0.0.1:5432/test python benchmarks/pg_checkout.py [ROUNDS]

A worker reads a broker message's 50 deliveries (``store.with_siblings``) and their posts (``store.get_posts``)
once a message, and checks a connection out four times a message. Two ways of doing that read, in one process on
one table of 10,000 scheduled deliveries, alternating 100 reads at a time for ROUNDS rounds (default 20), so a
change in the machine's speed during the run falls on both alike:

  before   ``pool_pre_ping=True`` (a ping on every checkout) and the read in a transaction (BEGIN ... COMMIT)
  after    the store as it is: a ping only after a connection sat idle (``store.PING_IDLE_SECONDS``), the read in
           autocommit

Prints, for each, the median over the rounds of the client's CPU (this process) and the backend's CPU (/proc, the
server being local) per read. Round trips a read: before 5 (the ping, BEGIN, the two SELECTs, COMMIT), after 2 (the
two SELECTs) while the connection was used within the last second. Works only on PostgreSQL on this machine.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from pg_statements import backend_cpu  # noqa: E402
from scale import _insert  # noqa: E402
from spine import _home  # noqa: E402


def main(rounds: int = 20) -> None:
    from sqlalchemy import create_engine

    from publisher import settings as settings_mod
    from publisher.schema import deliveries
    from publisher.store import Store, _json_loads, get_posts, with_siblings

    home, env = _home()
    s = settings_mod.load(env)
    store = Store(s.database_url)
    _insert(store, s, [("noc", datetime.now(UTC))] * 10_000)
    with store.read() as conn:
        ids = [r[0] for r in conn.exec_driver_sql(f"SELECT id FROM {deliveries.name} ORDER BY id")]
    batches = [ids[i:i + 50] for i in range(0, len(ids), 50)]
    # the store's engine but for the ping and the transaction: the same JSON loader, so only those two differ
    old = create_engine(store.engine.url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                        connect_args={"prepare_threshold": 0}, json_deserializer=_json_loads)

    @contextmanager
    def old_read() -> Any:
        with old.connect() as conn, conn.begin():
            yield conn

    def pids(engine: Any) -> set[int]:
        with engine.connect() as conn:
            return {int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())}

    arms = {"before": (old_read, old), "after": (store.read, store.engine)}
    backends = {name: pids(engine) for name, (_, engine) in arms.items()}
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in arms}
    for r in range(rounds + 1):
        for name, (read, _) in arms.items():
            b = batches[(r * 100) % len(batches):][:100] or batches[:100]
            c0, s0 = time.process_time(), backend_cpu(backends[name])
            for batch in b:
                with read() as conn:
                    rows, _family = with_siblings(conn, batch)
                    get_posts(conn, [d["post_id"] for d in rows.values()])
            c1, s1 = time.process_time(), backend_cpu(backends[name])
            if r:  # the first round warms both pools and statements
                figures[name].append(((c1 - c0) / len(b), (s1 - s0) / len(b)))
    for name, f in figures.items():
        client = statistics.median(x[0] for x in f) * 1e6
        server = statistics.median(x[1] for x in f) * 1e6
        print(f"{name}: a read of 50 deliveries and their posts, median of {rounds} rounds of 100: client CPU "
              f"{client:.0f} us, server CPU {server:.0f} us")
    old.dispose()
    store.dispose()


if __name__ == "__main__":
    if not os.environ.get("BENCH_PG"):
        sys.exit("set BENCH_PG=postgresql://... (PostgreSQL only)")
    main(*[int(a) for a in sys.argv[1:2]])
