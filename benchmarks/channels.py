"""Channel benchmarks against the platform sandbox (issue 3). Each prints result lines; RESULTS-channels.md records
them with the commands.

  python benchmarks/channels.py sandbox [THREADS ...]
      what the sandbox alone sustains with 50 ms added latency: a plain concurrent requests client (one session per
      thread, one untimed warm-up create each) posting to /x/2/tweets for 10 s, per thread count (a count may be
      repeated); ideal = threads / 0.05 s
  python benchmarks/channels.py throughput PROCESSES THREADS [N] [--channel x|dryrun]
      N deliveries spread over 4 X accounts that point at the sandbox (50 ms latency on every answer), published by
      real `publisher worker -p P -t T` + `publisher scheduler` processes; ideal = P x T / 0.05 s.
      --channel dryrun runs the same spine with the dry-run channel sleeping 50 ms instead (no HTTP), to separate
      the sandbox and the HTTP adapter from the spine.
  python benchmarks/channels.py ratelimit [R] [WINDOW] [N] [SECONDS]
      the sandbox allows one account R posts per WINDOW s (sliding, 429 beyond); the account's options.rate_limit is
      [R, WINDOW] (publisher.budget); N posts due now, `publisher worker -p 1 -t 4` + scheduler for SECONDS s.
      Reports posts accepted per full window as a share of R, and the 429s the sandbox sent.

Every process runs on this machine; the sandbox is its own process (`publisher sandbox`), as a remote API would be.
Set BENCH_DATABASE_URL (PostgreSQL) to run the spine on PostgreSQL (a fresh schema per run) instead of SQLite.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pinned import pin, root

LATENCY_MS = 50
ACCOUNTS = 4


# -- plumbing --


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(url: str, data: dict[str, Any] | None = None) -> Any:
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method="POST" if data is not None else "GET",  # noqa: S310
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback only
        return json.loads(resp.read())


@contextmanager
def sandbox_process(**faults: Any) -> Any:
    """`publisher sandbox` in its own process on a free loopback port, with ``faults`` set on every platform."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "publisher.cli", "sandbox", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _http(url + "/_sandbox/health")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.1)
        if faults:
            _http(url + "/_sandbox/faults", {"platform": faults.pop("platform", "*"), **faults})
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def _database() -> Any:
    """None (SQLite in the data dir), or a fresh schema in BENCH_DATABASE_URL, dropped afterwards."""
    base = os.environ.get("BENCH_DATABASE_URL")
    if not base:
        yield None
        return
    import psycopg

    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _home(accounts: dict[str, Any], db_url: str | None) -> tuple[Path, dict[str, str]]:
    home = Path(tempfile.mkdtemp(prefix="publisher-bench-channels-"))
    config = {"accounts": accounts, "scheduler": {"tick_seconds": 0.05, "batch": 2000}}
    (home / "config.yaml").write_text(yaml.safe_dump(config))
    env = pin({k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")})
    env["PUBLISHER_HOME"] = str(home)
    env["PUBLISHER_LOG_LEVEL"] = "WARNING"
    if db_url:
        env["PUBLISHER_DATABASE_URL"] = db_url
    for i in range(len(accounts)):
        env[f"BENCH_X_TOKEN_{i}"] = f"bench-x-token-{i}"
    return home, env


def _x_account(i: int, sandbox_url: str, rate: list[int]) -> dict[str, Any]:
    return {"channel": "x", "kind": "organisation", "base_url": f"{sandbox_url}/x",
            "credentials": {"bearer_token": f"env:BENCH_X_TOKEN_{i}"}, "options": {"rate_limit": rate}}


def _bulk(store: Any, settings: Any, n: int, tag: str) -> None:
    """Insert n posts + deliveries due now, round-robin over the accounts, with their audit events and tone keys
    (as accept())."""
    from publisher import audit
    from publisher.models import Payload, PostKind
    from publisher.schema import deliveries, posts
    from publisher.service import tone_keys
    from publisher.store import new_id

    accounts = {name: {"channel": a.channel} for name, a in settings.accounts.items()}

    now = datetime.now(UTC)
    names = sorted(accounts)
    for start in range(0, n, 5000):
        ps, ds, evs = [], [], []
        for i in range(start, min(start + 5000, n)):
            pid, did, name = new_id("p"), new_id("d"), names[i % len(names)]
            ps.append(dict(id=pid, kind="note", text="bench", variables={}, scheduled_at=now, overrides=[],
                           created_by="bench", created_at=now))
            text = f"{tag} bench post {i:07d}"
            key = tone_keys(settings, PostKind.NOTE, {name: [Payload(text=text)]})[(name, 1)]
            ds.append(dict(id=did, post_id=pid, account=name, channel=accounts[name]["channel"], part=1,
                           payload={"text": text}, state="scheduled", attempts=0, due_at=now,
                           updated_at=now, tone_key=key))
            evs.append(audit.Event("scheduled", post_id=pid, delivery_id=did, account=name, details={"to": "scheduled"}))
        with store.tx() as conn:
            conn.execute(posts.insert(), ps)
            conn.execute(deliveries.insert(), ds)
            audit.append(conn, "bench", evs, at=now)


def _spawn(env: dict[str, str], home: Path, *args: str) -> subprocess.Popen[bytes]:
    log = open(home / f"{args[0]}.log", "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen([sys.executable, "-m", "publisher.cli", *args], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _published_times(store: Any) -> list[float]:
    from sqlalchemy import select

    from publisher.schema import deliveries

    with store.read() as conn:
        rows = conn.execute(select(deliveries.c.published_at).where(deliveries.c.state == "published"))
        return sorted(r[0].replace(tzinfo=UTC).timestamp() for r in rows)


# -- the sandbox alone --


def sandbox(*thread_counts: int, seconds: float = 10.0) -> None:
    """Each thread opens its session with one untimed create, then all start together; a thread's rate is its
    creates over its own span (first request sent to last answer), summed over threads."""
    import requests

    with sandbox_process(latency_ms=LATENCY_MS) as url:
        for run, n in enumerate(thread_counts or (8, 16, 32)):
            count, spans = [0] * n, [0.0] * n
            errors: list[str] = []
            go = threading.Barrier(n)

            def client(i: int, n: int = n, run: int = run, count: list[int] = count, spans: list[float] = spans,
                       errors: list[str] = errors, go: threading.Barrier = go) -> None:
                session = requests.Session()
                headers = {"Authorization": f"Bearer plain-client-{n}-{i}"}

                def post(k: int | str) -> None:
                    r = session.post(f"{url}/x/2/tweets", json={"text": f"plain {run} {n} {i} {k}"}, headers=headers,
                                     timeout=30)
                    if r.status_code != 201:
                        raise AssertionError(f"{r.status_code} {r.text}")

                try:
                    post("warm-up")  # connection set-up, not timed
                    go.wait()
                    start = time.perf_counter()
                    stop, k = start + seconds, 0
                    while time.perf_counter() < stop:
                        post(k)
                        k += 1
                    count[i], spans[i] = k, time.perf_counter() - start
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))
                    go.abort()

            threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            if errors:
                raise SystemExit(f"sandbox benchmark, {n} threads: {errors[0]}")
            rate, ideal = sum(k / t for k, t in zip(count, spans, strict=True)), n / (LATENCY_MS / 1000)
            print(f"sandbox alone, {LATENCY_MS} ms latency, plain requests client, {n} threads: {sum(count)} posts in "
                  f"{max(spans):.1f} s = {rate:.0f}/s; ideal {ideal:.0f}/s; {rate / ideal:.0%}; mean "
                  f"{sum(spans) / sum(count) * 1000:.1f} ms per request", flush=True)


# -- throughput through the spine --


def _worker(env: dict[str, str], home: Path, processes: int, threads: int, tuned: str) -> subprocess.Popen[bytes]:
    """`publisher worker -p P -t T`, or with ``tuned`` = "PREFETCH:TIMEOUT_MS" the Dramatiq command it execs with
    another queue prefetch and worker timeout (the change proposed in RESULTS-channels.md)."""
    if not tuned:
        return _spawn(env, home, "worker", "-p", str(processes), "-t", str(threads))
    prefetch, timeout = tuned.split(":")
    log = open(home / "worker.log", "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen([sys.executable, "-m", "dramatiq", "publisher.workers.entry", "--path", str(root()),
                             "--processes", str(processes), "--threads", str(threads),
                             "--worker-shutdown-timeout", "30000"],
                            env={**env, "dramatiq_queue_prefetch": prefetch, "dramatiq_worker_timeout": timeout}, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def throughput(processes: int, threads: int, n: int = 0, channel: str = "x", tuned: str = "") -> None:
    from publisher import settings as settings_mod
    from publisher.store import Store, counts_by_state
    from publisher.workers import embedded

    ideal = processes * threads / (LATENCY_MS / 1000)
    n = n or int(ideal * 15)  # ~15 s of work at the ideal rate
    with sandbox_process(latency_ms=LATENCY_MS) as url, _database() as db_url:
        if channel == "x":
            accounts = {f"bench-x-{i}": _x_account(i, url, [1_000_000, 60]) for i in range(ACCOUNTS)}
        else:
            accounts = {f"bench-dry-{i}": {"channel": "dryrun", "kind": "organisation",
                                           "options": {"latency_ms": LATENCY_MS}} for i in range(ACCOUNTS)}
        home, env = _home(accounts, db_url)
        s = settings_mod.load(env)
        store = Store(s.database_url)
        _bulk(store, s, n, f"tp{processes}x{threads}")
        started = time.time()
        procs = [_spawn(env, home, "scheduler"), _worker(env, home, processes, threads, tuned)]
        try:
            deadline = time.monotonic() + 170
            counts: dict[str, int] = {}
            while time.monotonic() < deadline:
                with store.read() as conn:
                    counts = counts_by_state(conn)
                if counts.get("published", 0) >= n:
                    break
                time.sleep(0.5)
        finally:
            for p in procs:
                _stop(p)
            if not db_url:
                embedded.stop(s.valkey_dir)
        times = _published_times(store)
        stats = _http(url + "/_sandbox/stats")
    done = len(times)
    if done < 10:
        print(f"throughput {processes}x{threads} {channel}: only {done} of {n} published; states {counts}")
        return
    lo, hi = times[done // 10], times[done * 9 // 10]
    steady = (done * 9 // 10 - done // 10) / (hi - lo)
    overall = (done - 1) / (times[-1] - times[0])  # done posts span done - 1 intervals
    first = times[0] - started
    sent = stats.get("x:201", 0) if channel == "x" else done
    how = f", Dramatiq prefetch:timeout {tuned}" if tuned else ""
    print(f"throughput {processes} process x {threads} threads{how}, {channel}"
          f"{' via the sandbox' if channel == 'x' else ' (50 ms sleep, no HTTP)'}, {LATENCY_MS} ms latency, "
          f"{'PostgreSQL' if db_url else 'SQLite'}: {done}/{n} published (platform got {sent}, 429s "
          f"{stats.get('429', 0)}); first after {first:.1f} s; steady (10th-90th pct) {steady:.0f}/s, "
          f"first-to-last {overall:.0f}/s; ideal {ideal:.0f}/s; steady {steady / ideal:.0%} of ideal (goal >= 90%)",
          flush=True)


# -- rate-limit use --


def ratelimit(r: int = 20, window: int = 10, n: int = 200, seconds: int = 75) -> None:
    from publisher import settings as settings_mod
    from publisher.store import Store, counts_by_state
    from publisher.workers import embedded

    with sandbox_process(platform="x", rate_limit=r, rate_window_seconds=window) as url, _database() as db_url:
        _http(url + "/_sandbox/faults", {"platform": "*", "latency_ms": LATENCY_MS})
        accounts = {"bench-x-0": _x_account(0, url, [r, window])}
        home, env = _home(accounts, db_url)
        s = settings_mod.load(env)
        store = Store(s.database_url)
        _bulk(store, s, n, "rl")
        procs = [_spawn(env, home, "scheduler"), _spawn(env, home, "worker", "-p", "1", "-t", "4")]
        try:
            time.sleep(seconds)
        finally:
            for p in procs:
                _stop(p)
            if not db_url:
                embedded.stop(s.valkey_dir)
        with store.read() as conn:
            counts = counts_by_state(conn)
        accepted = sorted(p["at"] for p in _http(url + "/_sandbox/posts?platform=x")["posts"])
        stats = _http(url + "/_sandbox/stats")
    if len(accepted) <= r:
        print(f"ratelimit: only {len(accepted)} accepted; states {counts}")
        return
    t0 = accepted[0]
    windows = int((accepted[-1] - t0) // window) + 1
    per_window = [sum(1 for a in accepted if t0 + k * window <= a < t0 + (k + 1) * window) for k in range(windows)]
    # a sliding window of R per W lets post i go no earlier than W after post i-R: the share of R used is W over
    # the mean of those gaps (100% = every slot reused the moment the platform frees it)
    gaps = [accepted[i] - accepted[i - r] for i in range(r, len(accepted))]
    share = window / (sum(gaps) / len(gaps))
    print(f"ratelimit: sandbox limit {r} per {window} s per account (sliding), account rate_limit [{r}, {window}], "
          f"{LATENCY_MS} ms latency, {'PostgreSQL' if db_url else 'SQLite'}, {n} posts due at once, {seconds} s run: "
          f"{len(accepted)} accepted; per {window} s from the first {per_window} (last partial); slot reuse gap "
          f"mean {sum(gaps) / len(gaps):.2f} s, max {max(gaps):.2f} s = {share:.1%} of R per window (goal >= 95%); "
          f"429s sent by the sandbox: {stats.get('429', 0)} (goal 0); store states {dict(counts)}", flush=True)
    if os.environ.get("BENCH_VERBOSE"):
        print("accepted at (s after the first):", [round(a - t0, 2) for a in accepted])


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "sandbox"
    rest = [a for a in sys.argv[2:] if not a.startswith("--")]
    if what == "sandbox":
        sandbox(*[int(a) for a in rest])
    elif what == "throughput":
        ch = sys.argv[sys.argv.index("--channel") + 1] if "--channel" in sys.argv else "x"
        tuned = sys.argv[sys.argv.index("--tuned") + 1] if "--tuned" in sys.argv else ""
        nums = [int(a) for a in rest if a not in (ch, tuned)] + [0]
        throughput(nums[0], nums[1], nums[2], channel=ch, tuned=tuned)
    elif what == "ratelimit":
        ratelimit(*[int(a) for a in rest])
    else:
        raise SystemExit(__doc__)
