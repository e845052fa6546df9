"""Ops views over a big store (issue 14). Prints result lines; RESULTS-ops.md records them with the commands.

  python benchmarks/ops.py [N] [RUNS] [--keep DIR]
      builds a SQLite store of N deliveries (default 100,000; one post each) over 8 accounts, due within the next
      30 days (a dense month: about 3,300 a day, 420 per day and account), mostly `scheduled`, with some held,
      unknown, failed, pending approval, published and late ones; then times RUNS (default 5) cold CLI runs each of
      `publisher calendar --month`, `publisher status` and `publisher list --state held --since -1d --until +30d`,
      wall time from process start to exit (interpreter start and imports included), against `python -c pass` and
      `publisher list --limit 1` (the floor of any command that opens the store); then the queries and the
      rendering alone, in this process.
      --keep DIR builds the store in DIR and leaves it there; a later run with the same DIR reuses it (built at
      most a day ago: the month ahead still holds its rows) instead of spending a minute building it again.

The rows are written with one bulk insert per 10,000 (SQLAlchemy Core executemany), not N CLI calls: the benchmark
measures the reading commands, not the writing path. Audit events are not written; the views do not read them.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pinned import pin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ACCOUNTS = [f"acct{i}" for i in range(8)]
#: state mix: (state, weight); the held/unknown ones carry a reason
MIX = [("scheduled", 900), ("pending_approval", 20), ("held", 10), ("unknown", 5), ("failed", 5),
       ("published", 50), ("retry_wait", 10)]
REASONS = {"held": ["credentials expired for {a}: run `publisher accounts verify {a}`", "tone: blocked by shouting"],
           "unknown": ["timeout after the request was sent; reconcile pending"], "failed": ["403 duplicate status"]}


def bulk(store: Any, n: int, now: datetime) -> None:
    """n posts with one delivery each, due within the next 30 days (and 1% in the last day: late)."""
    from publisher.schema import deliveries, posts
    from publisher.store import new_id

    rnd = random.Random(14)
    states = [s for s, w in MIX for _ in range(w)]
    for start in range(0, n, 10_000):
        ps, ds = [], []
        for i in range(start, min(start + 10_000, n)):
            pid, did, acc = new_id("p"), new_id("d"), ACCOUNTS[i % len(ACCOUNTS)]
            state = rnd.choice(states)
            offset = -rnd.uniform(60, 86_400) if i % 100 == 0 else rnd.uniform(60, 30 * 86_400)
            due = now + timedelta(seconds=offset)
            ps.append(dict(id=pid, kind="note", text="bench", variables={}, scheduled_at=due, overrides=[],
                           created_by="bench", created_at=now))
            reason = rnd.choice(REASONS[state]).format(a=acc) if state in REASONS else None
            ds.append(dict(id=did, post_id=pid, account=acc, channel="dryrun", part=1,
                           payload={"text": f"Bench post {i:07d}: planned maintenance window on the ring"},
                           state=state, attempts=0, due_at=due, updated_at=now, last_error=reason))
        with store.tx() as conn:
            conn.execute(posts.insert(), ps)
            conn.execute(deliveries.insert(), ds)


def timed(args: list[str], env: dict[str, str], runs: int, cpu: list[float] | None = None) -> list[float]:
    """Wall times of ``runs`` runs; their CPU times (user + system of the child) are appended to ``cpu``."""
    import resource

    out = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run(args, env=env, capture_output=True, text=True)
        out.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if cpu is not None:
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if r.returncode != 0:
            raise SystemExit(f"{args}: exit {r.returncode}\n{r.stderr[-2000:]}")
    return out


def inproc(store: Any, runs: int) -> None:
    """The same work without the interpreter's start and the imports: the queries and the rendering only."""
    from zoneinfo import ZoneInfo

    from publisher.ops import calendar as cal
    from publisher.ops import status, terminal

    tz = ZoneInfo("Europe/Oslo")
    today = datetime.now(UTC).astimezone(tz).date()
    w = cal.window(today, today + timedelta(days=30), tz)
    sink: list[str] = []
    for label, work in (("status.collect", lambda conn: status.collect(conn, datetime.now(UTC))),
                        ("calendar build+render", lambda conn: terminal.render(cal.build(conn, w, per_cell=5),
                                                                               sink.append))):
        times, cpu = [], []
        for _ in range(runs):
            t, c = time.perf_counter(), time.process_time()
            with store.read() as conn:
                work(conn)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        print(f"in-process {label:<22} median {statistics.median(times):.3f} s, worst {max(times):.3f} s; "
              f"CPU median {statistics.median(cpu):.3f} s")


def main(n: int = 100_000, runs: int = 5, keep: Path | None = None) -> None:
    from publisher.store import Store

    home = keep or Path(tempfile.mkdtemp(prefix="publisher-bench-ops-"))
    home.mkdir(parents=True, exist_ok=True)
    db = home / "publisher.sqlite"
    reuse = keep is not None and db.exists() and time.time() - db.stat().st_mtime < 86_400
    (home / "config.yaml").write_text(yaml.safe_dump({"accounts": {
        a: {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"} for a in ACCOUNTS}}))
    env = pin({k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")})
    env.update({"PUBLISHER_HOME": str(home), "TZ": "Europe/Oslo", "COLUMNS": "160"})
    t = time.perf_counter()
    if reuse:
        store = Store(f"sqlite:///{db}")  # migrates a store built before a new revision
        with store.read() as conn:
            from sqlalchemy import func, select

            from publisher.schema import deliveries

            have = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
        print(f"reusing {have:,} deliveries in {home} (opened in {time.perf_counter() - t:.1f} s)")
    else:
        db.unlink(missing_ok=True)
        store = Store(f"sqlite:///{db}")
        bulk(store, n, datetime.now(UTC))
        print(f"built {n:,} deliveries in {time.perf_counter() - t:.1f} s ({home})")
    cli = [sys.executable, "-m", "publisher.cli"]
    cpu: list[float] = []
    base = timed([sys.executable, "-c", "pass"], env, runs, cpu)
    print(f"python -c pass: median {statistics.median(base) * 1000:.0f} ms (CPU {statistics.median(cpu) * 1000:.0f} ms); "
          f"load average {os.getloadavg()[0]:.1f}")
    for label, args in (("list --limit 1 (CLI floor)", ["list", "--limit", "1"]),
                        ("calendar --month", ["calendar", "--month"]),
                        ("calendar --month --html", ["calendar", "--month", "--html", str(home / "m.html")]),
                        ("status", ["status"]),
                        ("status --json", ["status", "--json"]),
                        ("list held, window", ["list", "--state", "held", "--since", "-1d", "--until", "+30d"])):
        cpu = []
        times = timed(cli + args, env, runs, cpu)
        print(f"{label:<26} median {statistics.median(times):.3f} s, worst {max(times):.3f} s "
              f"({', '.join(f'{x:.2f}' for x in times)}); CPU median {statistics.median(cpu):.3f} s; "
              f"load {os.getloadavg()[0]:.1f}")
    inproc(store, runs)
    lines = subprocess.run(cli + ["calendar", "--month"], env=env, capture_output=True, text=True).stdout
    print(f"calendar --month prints {len(lines.splitlines())} lines")
    if keep is None:
        import shutil

        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", nargs="?", type=int, default=100_000)
    ap.add_argument("runs", nargs="?", type=int, default=5)
    ap.add_argument("--keep", type=Path, default=None, metavar="DIR", help="build the store in DIR once, reuse it")
    a = ap.parse_args()
    main(a.n, a.runs, a.keep)
