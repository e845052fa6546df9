"""Spine benchmarks (issue 2). Each prints one result line; RESULTS-spine.md records them with the commands.

  python benchmarks/spine.py cold [N]          cold `publisher ticket update` to committed vs `python3 -c pass`
  python benchmarks/spine.py throughput [N]    dry-run deliveries/s through scheduler->actor->store+audit, and bare Dramatiq
  python benchmarks/spine.py lateness [N]      N deliveries due in the same second: p50/p99 lateness
  python benchmarks/spine.py rss [N]           worker RSS with N future deliveries in the store, vs naive delay= messages
  python benchmarks/spine.py handle [N [B]]     the actor alone: Publisher.handle_many, B deliveries per call, one thread
  python benchmarks/spine.py procs N P T       N deliveries due at one instant through `publisher worker -p P -t T` +
                                               `publisher scheduler` processes: deliveries/s and p50/p99 lateness
  BENCH_PG=postgresql://127.0.0.1:5432/test BENCH_REDIS=redis://127.0.0.1:6379/14 python benchmarks/spine.py procs ...
                                               the same on PostgreSQL + Redis (a fresh schema; the Redis db is flushed)
  Every benchmark here and in scale.py / pg_statements.py removes its data directory and its PostgreSQL schema when
  it ends; BENCH_KEEP=1 keeps them (to EXPLAIN a query on the burst's tables, say).
"""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from pinned import pin

ACCOUNTS = {"accounts": {"noc": {"channel": "dryrun", "kind": "organisation"}}, "scheduler": {"tick_seconds": 0.05, "batch": 2000}}


def _drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _home() -> tuple[Path, dict[str, str]]:
    home = Path(tempfile.mkdtemp(prefix="publisher-bench-"))
    keep = os.environ.get("BENCH_KEEP") == "1"
    if not keep:
        atexit.register(shutil.rmtree, home, True)
    (home / "config.yaml").write_text(yaml.safe_dump(ACCOUNTS))
    env = pin({k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")})
    env["PUBLISHER_HOME"] = str(home)
    if os.environ.get("BENCH_PG"):
        import psycopg

        schema = f"bench_{home.name.split('-')[-1].lower()}"
        with psycopg.connect(os.environ["BENCH_PG"], autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        if not keep:
            atexit.register(_drop_schema, os.environ["BENCH_PG"], schema)
        env["PUBLISHER_DATABASE_URL"] = f"{os.environ['BENCH_PG']}?options=-csearch_path%3D{schema}"
    if os.environ.get("BENCH_REDIS"):
        import redis

        redis.Redis.from_url(os.environ["BENCH_REDIS"]).flushdb()
        env["PUBLISHER_REDIS_URL"] = os.environ["BENCH_REDIS"]
    return home, env


def cold(n: int = 15) -> None:
    home, env = _home()
    cmd = [sys.executable, "-m", "publisher.cli", "ticket", "update", "INC-1", "--account", "noc"]
    subprocess.run([*cmd, "--open-if-missing", "--update-id", "warm", "warm-up opens the ticket and creates the store"],
                   env=env, check=True, capture_output=True)
    times = []
    for i in range(n):
        t = time.perf_counter()
        subprocess.run([*cmd, "--update-id", str(i), f"update {i}"], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    base = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - t)
    a, b = statistics.median(times), statistics.median(base)
    print(f"cold ticket update: median {a * 1000:.0f} ms; python -c pass: {b * 1000:.0f} ms; ratio {a / b:.1f}x (goal <= 25x)")


def _bulk(store, n: int, due: datetime, settings) -> None:  # type: ignore[no-untyped-def]
    """Insert n posts + deliveries directly (bulk), with their audit events and tone keys, as accept() would."""
    from publisher import audit
    from publisher.models import Payload, PostKind
    from publisher.schema import deliveries, posts
    from publisher.service import tone_keys
    from publisher.store import new_id

    now = datetime.now(UTC)
    for start in range(0, n, 10_000):
        ps, ds, evs = [], [], []
        for k in range(min(10_000, n - start)):
            pid, did = new_id("p"), new_id("d")
            ps.append(dict(id=pid, kind="note", text="bench", variables={}, scheduled_at=due, overrides=[],
                           created_by="bench", created_at=now))
            text = f"bench post {start + k}"
            key = tone_keys(settings, PostKind.NOTE, {"noc": [Payload(text=text)]})[("noc", 1)]
            ds.append(dict(id=did, post_id=pid, account="noc", channel="dryrun", part=1, payload={"text": text},
                           state="scheduled", attempts=0, due_at=due, updated_at=now, tone_key=key))
            evs.append(audit.Event("scheduled", post_id=pid, delivery_id=did, account="noc", details={"to": "scheduled"}))
        with store.tx() as conn:
            conn.execute(posts.insert(), ps)
            conn.execute(deliveries.insert(), ds)
            audit.append(conn, "bench", evs, at=now)


def _stop_embedded(settings) -> None:  # type: ignore[no-untyped-def]
    """`publisher worker`/`scheduler` leave the embedded broker running on purpose (others may share it)."""
    if not settings.redis_url:
        from publisher.workers import embedded

        embedded.stop(settings.valkey_dir)


def _settled(counts: dict[str, int]) -> int:
    """Deliveries that will not move again without a human (so a held one cannot hang a run)."""
    return sum(counts.get(k, 0) for k in ("published", "failed", "held", "expired", "cancelled"))


def throughput(n: int = 2000) -> None:
    from publisher import settings as settings_mod
    from publisher.commands.running import run_inprocess
    from publisher.store import Store, counts_by_state

    home, env = _home()
    s = settings_mod.load(env)
    store = Store(s.database_url)
    _bulk(store, n, datetime.now(UTC), s)

    def done() -> bool:
        with store.read() as conn:
            return _settled(counts_by_state(conn)) >= n

    t = time.perf_counter()
    run_inprocess(s, threads=8, until=done, timeout=600)
    elapsed = time.perf_counter() - t
    rate = n / elapsed
    bare = _bare_dramatiq(n * 5)
    print(f"throughput: {n} dry-run deliveries in {elapsed:.1f} s = {rate:.0f}/s; bare Dramatiq no-op {bare:.0f}/s; "
          f"ratio {rate / bare:.0%} (goals >= 1000/s and >= 30%)")


def _bare_dramatiq(n: int) -> float:
    """No-op actor throughput on a fresh embedded Valkey, in a subprocess (Dramatiq's global broker is per process)."""
    code = f"""
import time, tempfile, threading, dramatiq
from pathlib import Path
from dramatiq.brokers.redis import RedisBroker
from publisher.workers import embedded
d = Path(tempfile.mkdtemp()) / 'valkey'
url, _ = embedded.ensure(d)
broker = RedisBroker(url=url); dramatiq.set_broker(broker)
count = 0; lock = threading.Lock(); done = threading.Event()
@dramatiq.actor(max_retries=0)
def noop(i):
    global count
    with lock:
        count += 1
        if count == {n}: done.set()
for i in range({n}): noop.send(i)
w = dramatiq.Worker(broker, worker_threads=8, worker_timeout=100)
t = time.perf_counter(); w.start(); done.wait(600); el = time.perf_counter() - t
w.stop(); embedded.stop(d); print({n} / el)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def lateness(n: int = 10_000) -> None:
    from sqlalchemy import select

    from publisher import settings as settings_mod
    from publisher.commands.running import run_inprocess
    from publisher.schema import deliveries
    from publisher.store import Store, counts_by_state

    home, env = _home()
    s = settings_mod.load(env)
    store = Store(s.database_url)
    due = datetime.now(UTC) + timedelta(seconds=40)
    _bulk(store, n, due, s)

    def done() -> bool:
        with store.read() as conn:
            return _settled(counts_by_state(conn)) >= n

    run_inprocess(s, threads=8, until=done, timeout=900)
    with store.read() as conn:
        late = sorted((r[0] - r[1]).total_seconds() for r in conn.execute(select(deliveries.c.published_at, deliveries.c.due_at)
                                                             .where(deliveries.c.published_at.is_not(None))))
    p50, p99 = late[len(late) // 2], late[int(len(late) * 0.99) - 1]
    print(f"lateness: {n} deliveries due in the same second: p50 {p50:.2f} s, p99 {p99:.2f} s, max {late[-1]:.2f} s "
          f"(goal p99 <= 2 s); none early: {min(late) >= 0}")


def _rss_of(pid: int) -> int:
    total = 0
    for p in [pid, *[int(c) for c in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total = max(total, int(line.split()[1]) // 1024)
        except FileNotFoundError:
            pass
    return total


def rss(n: int = 1_000_000, naive_n: int = 100_000) -> None:
    from publisher import settings as settings_mod
    from publisher.store import Store

    home, env = _home()
    s = settings_mod.load(env)
    store = Store(s.database_url)
    t = time.perf_counter()
    _bulk(store, n, datetime.now(UTC) + timedelta(days=30), s)
    insert = time.perf_counter() - t
    due_ms = _due_query_ms(store)
    worker = subprocess.Popen([sys.executable, "-m", "publisher.cli", "worker", "-p", "1", "-t", "8"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    sched = subprocess.Popen([sys.executable, "-m", "publisher.cli", "scheduler"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(20)
    ours_worker, ours_sched = _rss_of(worker.pid), _rss_of(sched.pid)
    for p in (worker, sched):
        os.killpg(p.pid, 15)
        p.wait()
    _stop_embedded(s)
    naive = _naive_rss(naive_n)
    print(f"due query (a scheduler tick that finds nothing due) with {n} rows: median {due_ms:.2f} ms")
    print(f"rss: {n} future deliveries in the store (inserted in {insert:.0f} s): worker {ours_worker} MB, "
          f"scheduler {ours_sched} MB (goal <= 150 MB, flat); naive delay= design with {naive_n} messages: worker {naive} MB")


def _due_query_ms(store) -> float:  # type: ignore[no-untyped-def]
    """Median time of the scheduler's claim (index on state, due_at) when nothing is due."""
    from publisher.store import claim_due

    times = []
    for _ in range(21):
        t = time.perf_counter()
        with store.tx() as conn:
            assert claim_due(conn, "bench", datetime.now(UTC), timedelta(seconds=2), 500) == []
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _naive_rss(n: int) -> int:
    code = f"""
import os, time, tempfile, dramatiq, resource
from pathlib import Path
from dramatiq.brokers.redis import RedisBroker
from publisher.workers import embedded
d = Path(tempfile.mkdtemp()) / 'valkey'
url, _ = embedded.ensure(d)
broker = RedisBroker(url=url); dramatiq.set_broker(broker)
@dramatiq.actor(max_retries=0)
def publish(i): pass
for i in range({n}): publish.send_with_options(args=(i,), delay=30 * 86400 * 1000)
w = dramatiq.Worker(broker, worker_threads=8, worker_timeout=100); w.start(); time.sleep(20)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
w.stop(); embedded.stop(d)
"""
    env = dict(os.environ, dramatiq_delay_queue_prefetch=str(n))  # the naive design holds every delayed message
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return int(out.stdout.strip().splitlines()[-1])


def procs(n: int = 5000, processes: int = 2, threads: int = 8) -> None:
    """The production shape: separate worker and scheduler processes; N deliveries all due at one instant."""
    from sqlalchemy import select

    from publisher import settings as settings_mod
    from publisher.schema import deliveries
    from publisher.store import Store, counts_by_state

    home, env = _home()
    s = settings_mod.load(env)
    store = Store(s.database_url)
    lead = 15 + n / 2000  # time to insert and to start the processes before the deliveries fall due
    due = datetime.now(UTC) + timedelta(seconds=lead)
    _bulk(store, n, due, s)
    spawned = [subprocess.Popen([sys.executable, "-m", "publisher.cli", *args], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
               for args in (["worker", "-p", str(processes), "-t", str(threads)], ["scheduler"])]
    try:
        deadline = time.monotonic() + lead + 900
        while time.monotonic() < deadline:
            with store.read() as conn:
                if _settled(counts_by_state(conn)) >= n:
                    break
            time.sleep(0.5)
    finally:
        for p in spawned:
            os.killpg(p.pid, 15)
            p.wait()
        _stop_embedded(s)
    with store.read() as conn:
        late = sorted((r[0] - r[1]).total_seconds() for r in conn.execute(select(deliveries.c.published_at, deliveries.c.due_at)
                                                             .where(deliveries.c.published_at.is_not(None))))
    p50, p99 = late[len(late) // 2], late[int(len(late) * 0.99) - 1]
    path = "PostgreSQL + Redis" if env.get("PUBLISHER_DATABASE_URL") else "SQLite + embedded Valkey"
    print(f"procs ({path}, {processes} worker processes x {threads} threads + 1 scheduler): {n} deliveries due at once "
          f"published in {late[-1]:.1f} s = {n / late[-1]:.0f}/s; lateness p50 {p50:.2f} s, p99 {p99:.2f} s; "
          f"none early: {late[0] >= 0}")


def handle(n: int = 5000, batch: int = 50) -> None:
    """The actor's own cost per delivery: ``Publisher.handle_many`` over queued deliveries, ``batch`` at a time, in
    one thread, with no broker and no Dramatiq (the dry-run channel, SQLite store)."""
    from sqlalchemy import select, update

    from publisher import settings as settings_mod
    from publisher.publishing import Publisher
    from publisher.schema import deliveries
    from publisher.store import Store

    home, env = _home()
    s = settings_mod.load(env)
    store = Store(s.database_url)
    _bulk(store, n, datetime.now(UTC), s)
    with store.tx() as conn:
        conn.execute(update(deliveries).values(state="queued"))
    with store.read() as conn:
        ids = [r[0] for r in conn.execute(select(deliveries.c.id))]
    publisher = Publisher(s, store)
    publisher.handle_many(ids[:batch])  # warm-up: adapter, statements, tone profile
    t = time.perf_counter()
    for i in range(batch, n, batch):
        publisher.handle_many(ids[i:i + batch])
    elapsed = time.perf_counter() - t
    print(f"handle: {n - batch} deliveries, {batch} per call, one thread, no broker: {(n - batch) / elapsed:.0f}/s = "
          f"{elapsed / (n - batch) * 1000:.3f} ms per delivery")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "cold"
    arg = [int(a) for a in sys.argv[2:5]]
    {"cold": cold, "throughput": throughput, "lateness": lateness, "rss": rss, "procs": procs, "handle": handle}[what](*arg)
