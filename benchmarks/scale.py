"""Scale-out benchmarks (issue 16). Each prints one result line; RESULTS-scale.md records them with the commands.

  python benchmarks/scale.py burst N P T
      N deliveries due at one instant through `publisher worker -p P -t T` + `publisher scheduler` (as spine.py
      procs), and on PostgreSQL the share of in-transaction backend samples waiting on a lock (pg_stat_activity
      wait_event_type = 'Lock', every 10 ms during the burst; and ungranted pg_locks rows), by lock kind, and what
      the in-transaction backends were doing otherwise (running, waiting on the client, on I/O); and the CPU every
      process on the machine used from 0.5 s before the due time to the last publish, by kind (workers, scheduler,
      database server, broker, the benchmark itself), against what the cores could give in that time
  python benchmarks/scale.py hour ACCOUNTS PER P T GAP MAXDAY
      the top-of-the-hour burst: ACCOUNTS accounts, PER deliveries each, all due at the same second, every account
      with policy min_gap_seconds = GAP and max_per_day = MAXDAY: cadence violations counted from the published
      times, nothing lost or doubled (the dry-run ledger), lateness p50/p99 and beyond the cadence floor (the k-th
      delivery of an account cannot be earlier than (k - 1) x GAP after the due time)

  python benchmarks/scale.py scaling P T [SECONDS]
      throughput at 50 ms platform latency (dry-run channel sleeping 50 ms, 4 accounts), P worker processes x T
      threads, steady state (10th-90th percentile of publish times) as a share of the bound P x T / 0.05 s

  BENCH_LOCKS=0 python benchmarks/scale.py ...
      no lock sampling on PostgreSQL (it polls from this process every 10 ms)
  taskset -c 0 python benchmarks/scale.py ...   (with benchmarks/pin_services.sh 1)
      a one-core application machine beside a database machine: see RESULTS-scale.md, 2026-12-04 11:30
  BENCH_WINDOW=FILE python benchmarks/scale.py burst|hour ...
      also writes the CPU line's window and each process's kind to FILE, for benchmarks/cpu_split.py (the CPU by
      kind of process and by library, from perf)
  BENCH_ANALYZE=1 python benchmarks/scale.py ...
      on PostgreSQL, ANALYZE the tables after inserting, as autovacuum does after an import: planner statistics
      that say every delivery is scheduled (RESULTS-scale.md, 2026-12-04 15:40)
  BENCH_SCHEDULER=lost_after_seconds=60 python benchmarks/scale.py ...
      scheduler settings for the run (comma-separated key=value, into the config's ``scheduler:`` section)
  BENCH_PG=postgresql://127.0.0.1:5432/test BENCH_REDIS=redis://127.0.0.1:6379/14 python benchmarks/scale.py ...
      the same on PostgreSQL + Redis (a fresh schema; the Redis db is flushed); BENCH_BROKER=amqp://... as well
      puts the messages on RabbitMQ (Redis keeps budgets, cadence and heartbeats).

Works against older code too (PYTHONPATH at a worktree of another commit): it uses only the store and the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from spine import _home, _settled, _stop_embedded  # noqa: E402


def _lock_sampler(env: dict[str, str], app: str) -> LockSampler | None:
    """On PostgreSQL, the lock sampler, unless BENCH_LOCKS=0: it polls pg_stat_activity every 10 ms from this
    process, which costs ~0.35 s of CPU in a 10,000 burst (the pinned runs put this process on the application's
    core)."""
    if not env.get("PUBLISHER_DATABASE_URL") or os.environ.get("BENCH_LOCKS") == "0":
        return None
    return LockSampler(os.environ["BENCH_PG"], app)


class CpuSampler:
    """CPU seconds of every process on the machine by kind, from ``start`` until ``stop``: the worker pool, the
    scheduler, the database server, the broker, this benchmark, anything else. Every process is sampled every 0.1 s
    from /proc, so one that exits before the end still counts up to its last sample (the servers run on this
    machine, as they do here)."""

    KINDS = (("dramatiq", "workers"), ("publisher.cli worker", "workers"), ("publisher.cli scheduler", "scheduler"),
             ("scale.py", "benchmark"), ("postgres", "database server"), ("redis-server", "broker"),
             ("valkey-server", "broker"), ("beam.smp", "broker"))

    def __init__(self) -> None:
        self.first: dict[int, tuple[str, float]] = {}
        self.started = 0.0
        self.last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _kind(self, pid: int) -> str:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return "other"
        return next((kind for key, kind in self.KINDS if key in cmd or key == name), "other")

    def _snap(self) -> dict[int, tuple[str, float]]:
        out = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                pid = int(entry)
                known = self.last.get(pid) or self.first.get(pid)
                cpu = _proc_cpu(pid)
                if cpu or known is None:
                    out[pid] = (known[0] if known else self._kind(pid), cpu)
        return out

    def start(self) -> None:
        self.first = self._snap()
        self.started = time.monotonic()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.last.update(self._snap())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def line(self, busy: float) -> str:
        """``busy``: the seconds from ``start`` to the last piece of work (the capacity is that times the cores).
        With BENCH_WINDOW=FILE, also writes that window (CLOCK_MONOTONIC) and the kind of every process to FILE,
        for ``cpu_split.py``."""
        if os.environ.get("BENCH_WINDOW"):
            kinds = {pid: kind for pid, (kind, _) in {**self.first, **self.last}.items()}
            Path(os.environ["BENCH_WINDOW"]).write_text(json.dumps(
                {"start": self.started, "end": self.started + busy, "kinds": kinds}))
        used: Counter[str] = Counter()
        for pid, (kind, cpu) in self.last.items():
            used[kind] += max(0.0, cpu - self.first.get(pid, (kind, 0.0))[1])
        cores = len(os.sched_getaffinity(0))
        return (f"CPU from 0.5 s before the due time to the last publish ({busy:.1f} s x {cores} cores = "
                f"{busy * cores:.1f} s available): "
                + ", ".join(f"{k} {v:.2f} s" for k, v in used.most_common() if v >= 0.01)
                + f"; total {sum(used.values()):.2f} s")


class LockSampler:
    """Samples pg_stat_activity and pg_locks for the backends of one application_name, every ``every`` s."""

    def __init__(self, url: str, app: str, every: float = 0.01) -> None:
        self.url, self.app, self.every = url, app, every
        self.in_tx = self.waiting = self.samples = self.ungranted = 0
        self.kinds: Counter[str] = Counter()
        self.states: Counter[str] = Counter()  # state:wait_event_type of every in-transaction sample
        self.cpu: dict[int, float] = {}  # CPU seconds of each backend, as last sampled (the server is local)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute("SELECT state, wait_event_type, wait_event, pid FROM pg_stat_activity "
                                    "WHERE application_name = %s AND pid <> pg_backend_pid()", (self.app,)).fetchall()
                for *_, pid in rows:
                    self.cpu[pid] = max(self.cpu.get(pid, 0.0), _proc_cpu(pid))
                busy = [r[:3] for r in rows if r[0] in ("active", "idle in transaction")]
                if busy:
                    self.samples += 1
                    self.in_tx += len(busy)
                    for state, kind, event in busy:
                        self.states[f"{state}:{kind or 'running'}"] += 1
                        if kind == "Lock":
                            self.waiting += 1
                            self.kinds[event] += 1
                    self.ungranted += conn.execute(
                        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE NOT l.granted AND a.application_name = %s", (self.app,)).fetchone()[0]
                time.sleep(self.every)

    def line(self) -> str:
        share = self.waiting / self.in_tx if self.in_tx else 0.0
        kinds = ", ".join(f"{k} {v}" for k, v in self.kinds.most_common()) or "none"
        return (f"lock wait share {share * 100:.1f} % of {self.in_tx} in-transaction backend samples "
                f"({self.samples} sample rounds; lock waits by kind: {kinds}; ungranted pg_locks rows summed "
                f"{self.ungranted}; all samples by state:wait: "
                f"{', '.join(f'{k} {v}' for k, v in self.states.most_common(6))})")


def _proc_cpu(pid: int) -> float:
    """user + system CPU seconds of a local process, 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _with_app(env: dict[str, str], app: str) -> None:
    if env.get("PUBLISHER_DATABASE_URL"):
        env["PUBLISHER_DATABASE_URL"] += f"&application_name={app}"


def _home_env() -> tuple[Path, dict[str, str]]:
    """spine's data directory and environment, plus the broker BENCH_BROKER names (amqp://: RabbitMQ)."""
    home, env = _home()
    if os.environ.get("BENCH_BROKER"):
        env["PUBLISHER_BROKER_URL"] = os.environ["BENCH_BROKER"]
    if os.environ.get("BENCH_SCHEDULER"):  # e.g. lost_after_seconds=60: scheduler settings for this run
        config = yaml.safe_load((home / "config.yaml").read_text())
        config["scheduler"] = {k: float(v) for k, v in (kv.split("=") for kv in os.environ["BENCH_SCHEDULER"].split(","))}
        (home / "config.yaml").write_text(yaml.safe_dump(config))
    return home, env


def _path(env: dict[str, str]) -> str:
    path = "PostgreSQL + " if env.get("PUBLISHER_DATABASE_URL") else "SQLite + "
    broker = env.get("PUBLISHER_BROKER_URL", "")
    if broker.startswith("amqp"):
        return path + "RabbitMQ (+ Redis for budgets)" if env.get("PUBLISHER_REDIS_URL") else path + "RabbitMQ"
    return path + ("Redis" if env.get("PUBLISHER_REDIS_URL") else "embedded Valkey")


def _spawn(env: dict[str, str], processes: int, threads: int) -> list[subprocess.Popen[bytes]]:
    """The worker pool and the scheduler; with BENCH_LOGS=DIR their output goes to DIR/worker.log, scheduler.log."""
    logs = os.environ.get("BENCH_LOGS")
    spawned = []
    for args in (["worker", "-p", str(processes), "-t", str(threads)], ["scheduler"]):
        out: Any = open(Path(logs) / f"{args[0]}.log", "ab") if logs else subprocess.DEVNULL  # noqa: SIM115
        # in the data directory: code older than ``publisher worker --path`` let Dramatiq import from the working
        # directory (pinned.py)
        spawned.append(subprocess.Popen([sys.executable, "-m", "publisher.cli", *args], env=env, stdout=out,
                                        stderr=out, start_new_session=True, cwd=env["PUBLISHER_HOME"]))
    return spawned


def _wait(store: Any, n: int, limit: float) -> None:
    from publisher.store import counts_by_state

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with store.read() as conn:
            if _settled(counts_by_state(conn)) >= n:
                return
        time.sleep(0.5)


def _stop(spawned: list[subprocess.Popen[bytes]]) -> None:
    for p in spawned:
        os.killpg(p.pid, 15)
        p.wait()


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, max(0, int(len(values) * q) - 1))]


def _insert(store: Any, settings: Any, plan: list[tuple[str, datetime]]) -> None:
    """Posts and deliveries (one per (account, due) in ``plan``), with their audit events and tone keys, as
    accept() would, in transactions of 10,000."""
    from publisher import audit
    from publisher.models import Payload, PostKind
    from publisher.schema import deliveries, posts
    from publisher.service import tone_keys
    from publisher.store import new_id

    now = datetime.now(UTC)
    for start in range(0, len(plan), 10_000):
        ps, ds, evs = [], [], []
        for k, (account, due) in enumerate(plan[start:start + 10_000]):
            pid, did = new_id("p"), new_id("d")
            ps.append(dict(id=pid, kind="note", text="bench", variables={}, scheduled_at=due, overrides=[],
                           created_by="bench", created_at=now))
            text = f"bench post {start + k}"
            key = tone_keys(settings, PostKind.NOTE, {account: [Payload(text=text)]})[(account, 1)]
            ds.append(dict(id=did, post_id=pid, account=account, channel="dryrun", part=1, payload={"text": text},
                           state="scheduled", attempts=0, due_at=due, updated_at=now, tone_key=key))
            evs.append(audit.Event("scheduled", post_id=pid, delivery_id=did, account=account, details={"to": "scheduled"}))
        with store.tx() as conn:
            conn.execute(posts.insert(), ps)
            conn.execute(deliveries.insert(), ds)
            audit.append(conn, "bench", evs, at=now)
    if not store.is_sqlite and os.environ.get("BENCH_ANALYZE") == "1":
        with store.tx() as conn:  # planner statistics taken now, as autovacuum takes them after an import
            conn.exec_driver_sql("ANALYZE deliveries, posts, audit_events")


def _platform_lateness(home: Path, due: datetime) -> list[float]:
    """Each post's lateness as the platform saw it: the dry-run ledger's time of receipt minus the due time (the
    first receipt of each delivery), sorted. ``published_at`` is when the call came back, after that."""
    from publisher.channels.dryrun import ledger_rows

    first: dict[str, float] = {}
    for r in ledger_rows(home / "dryrun-ledger.jsonl"):
        first.setdefault(r["delivery_id"], (datetime.fromisoformat(r["at"]) - due).total_seconds())
    return sorted(first.values())


def burst(n: int = 10_000, processes: int = 2, threads: int = 8) -> None:
    from sqlalchemy import select

    from publisher import settings as settings_mod
    from publisher.schema import deliveries
    from publisher.store import Store

    home, env = _home_env()
    app = f"pubbench_{home.name.split('-')[-1].lower()}"
    _with_app(env, app)
    s = settings_mod.load(env)
    store = Store(s.database_url)
    lead = 15 + n / 2000
    due = datetime.now(UTC) + timedelta(seconds=lead)
    _insert(store, s, [("noc", due)] * n)
    cpu0 = _children_cpu()
    spawned = _spawn(env, processes, threads)
    sampler = _lock_sampler(env, app)
    usage = CpuSampler()
    try:
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 0.5))
        usage.start()
        if sampler:
            sampler.start()
        _wait(store, n, 900)
    finally:
        usage.stop()
        if sampler:
            sampler.stop()
        _stop(spawned)
        _stop_embedded(s)
    cpu = _children_cpu() - cpu0
    server = sum(sampler.cpu.values()) if sampler else 0.0
    with store.read() as conn:
        late = sorted((r[0] - r[1]).total_seconds() for r in conn.execute(
            select(deliveries.c.published_at, deliveries.c.due_at).where(deliveries.c.published_at.is_not(None))))
    platform = _platform_lateness(home, due)
    print(f"burst ({_path(env)}, {processes} worker processes x {threads} threads + 1 scheduler): {len(late)}/{n} "
          f"published in {late[-1]:.1f} s = {n / late[-1]:.0f}/s; lateness p50 {_pct(late, 0.5):.2f} s, "
          f"p99 {_pct(late, 0.99):.2f} s (on the platform's clock: p50 {_pct(platform, 0.5):.2f} s, "
          f"p99 {_pct(platform, 0.99):.2f} s); none early: {late[0] >= 0}; CPU: worker + scheduler processes "
          f"{cpu:.1f} s (start-up included), database server {server:.1f} s ({(cpu + server) / n * 1000:.2f} ms "
          f"a delivery); load {os.getloadavg()[0]:.1f}" + (f"; {sampler.line()}" if sampler else "")
          + f"; {usage.line(late[-1] + 0.5)}")


def hour(accounts: int = 10_000, per: int = 5, processes: int = 2, threads: int = 8, gap: int = 5,
         max_day: int = 10) -> None:
    from sqlalchemy import select

    from publisher import settings as settings_mod
    from publisher.channels.dryrun import ledger_rows
    from publisher.schema import audit_events, deliveries
    from publisher.store import Store, counts_by_state

    home, env = _home_env()
    app = f"pubbench_{home.name.split('-')[-1].lower()}"
    _with_app(env, app)
    ledger = home / "dryrun-ledger.jsonl"  # the dry-run channel's default ledger
    names = [f"a{i:05d}" for i in range(accounts)]
    config = yaml.safe_load((home / "config.yaml").read_text())
    config["accounts"] = {}
    (home / "config.yaml").write_text(  # compact: the configuration file may hold at most 1 MB
        yaml.safe_dump({k: v for k, v in config.items() if k != "accounts"})
        + "accounts:\n" + "".join(f"  {a}: {{channel: dryrun, policy: {{min_gap_seconds: {gap}, "
                                   f"max_per_day: {max_day}}}}}\n" for a in names))
    s = settings_mod.load(env)
    store = Store(s.database_url)
    n = accounts * per
    lead = 20 + n / 2000
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
    _insert(store, s, [(a, due) for a in names for _ in range(per)])
    spawned = _spawn(env, processes, threads)
    sampler = _lock_sampler(env, app)
    usage = CpuSampler()
    try:
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 0.5))
        usage.start()
        if sampler:
            sampler.start()
        _wait(store, n, 900)
    finally:
        usage.stop()
        if sampler:
            sampler.stop()
        _stop(spawned)
        _stop_embedded(s)
    with store.read() as conn:
        rows = conn.execute(select(deliveries.c.id, deliveries.c.account, deliveries.c.published_at,
                                   deliveries.c.due_at)).all()
        counts = counts_by_state(conn)
        waits = Counter(r[0] for r in conn.execute(  # how often each delivery was sent back by its cadence
            select(audit_events.c.delivery_id).where(audit_events.c.action == "policy_wait")))
    platform = ledger_rows(ledger)  # what the platform received, and when: the cadence is judged from these times
    ledger_ids = Counter(r["delivery_id"] for r in platform)
    doubled = sum(1 for c in ledger_ids.values() if c > 1)
    published = [r for r in rows if r[2] is not None]
    lost = n - len(ledger_ids)
    by_account: dict[str, list[datetime]] = defaultdict(list)
    for r in platform:
        by_account[r["account"]].append(datetime.fromisoformat(r["at"]))
    violations = slight = 0
    late: list[float] = []
    beyond: list[float] = []
    gaps: list[float] = []
    for times in by_account.values():
        times.sort()
        for a, b in zip(times, times[1:], strict=False):
            gaps.append((b - a).total_seconds())
            if gaps[-1] < gap - 0.25:  # min gap, beyond the time between the reservation and the call
                violations += 1
            elif gaps[-1] < gap:
                slight += 1
        per_day = Counter(t.date() for t in times)
        violations += sum(max(0, c - max_day) for c in per_day.values())  # max per day
        for k, t in enumerate(times):
            lateness = (t - due).total_seconds()
            late.append(lateness)
            beyond.append(lateness - k * gap)
    late.sort()
    beyond.sort()
    gaps.sort()
    print(f"hour ({_path(env)}, {processes} x {threads} + 1 scheduler): {accounts} accounts x {per} due at the same "
          f"second, min_gap {gap} s, max_per_day {max_day}: {len(published)}/{n} published, states "
          f"{json.dumps(counts, sort_keys=True)}; lost {lost}, doubled {doubled}; cadence violations {violations} "
          f"(gaps under {gap} s by less than 0.25 s: {slight}; smallest gap {gaps[0] if gaps else 0:.3f} s); "
          f"lateness p50 {_pct(late, 0.5):.1f} s, p99 {_pct(late, 0.99):.1f} s, max {late[-1]:.1f} s; beyond the "
          f"cadence floor p99 {_pct(beyond, 0.99):.1f} s; cadence waits {sum(waits.values())} "
          f"({sum(waits.values()) / n:.2f} per delivery, at most {max(waits.values(), default=0)} for one)"
          + (f"; {sampler.line()}" if sampler else "") + f"; {usage.line(late[-1] + 0.5)}")


def scaling(processes: int = 1, threads: int = 8, seconds: int = 15) -> None:
    """Throughput at 50 ms platform latency (the dry-run channel sleeping 50 ms, no HTTP) against the concurrency
    bound P x T / 0.05 s, steady state (10th to 90th percentile of the publish times), as channels.py throughput
    --channel dryrun measures it, on either path."""
    from sqlalchemy import select

    from publisher import settings as settings_mod
    from publisher.schema import deliveries
    from publisher.store import Store

    home, env = _home_env()
    names = [f"dry{i}" for i in range(4)]
    config = yaml.safe_load((home / "config.yaml").read_text())
    config["accounts"] = {a: {"channel": "dryrun", "kind": "organisation", "options": {"latency_ms": 50}}
                          for a in names}
    (home / "config.yaml").write_text(yaml.safe_dump(config))
    s = settings_mod.load(env)
    store = Store(s.database_url)
    bound = processes * threads / 0.05
    n = int(bound * seconds)
    _insert(store, s, [(names[i % 4], datetime.now(UTC)) for i in range(n)])
    spawned = _spawn(env, processes, threads)
    try:
        _wait(store, n, seconds * 6 + 60)
    finally:
        _stop(spawned)
        _stop_embedded(s)
    with store.read() as conn:
        times = sorted(r[0].timestamp() for r in conn.execute(
            select(deliveries.c.published_at).where(deliveries.c.published_at.is_not(None))))
    done = len(times)
    lo, hi = times[done // 10], times[done * 9 // 10]
    steady = (done * 9 // 10 - done // 10) / (hi - lo)
    print(f"scaling ({_path(env)}, {processes} x {threads}, 50 ms latency): {done}/{n} published; steady "
          f"{steady:.0f}/s of the bound {bound:.0f}/s = {steady / bound * 100:.0f} %")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "burst"
    arg = [int(a) for a in sys.argv[2:8]]
    {"burst": burst, "hour": hour, "scaling": scaling}[what](*arg)
