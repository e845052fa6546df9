"""Feed polling at scale, and side by side with Debian's feed2toot (benchmarks/RESULTS-feeds.md).

    PYTHONPATH=$PWD python benchmarks/feeds.py [--feeds 1000] [--entries 50] [--compare 100]

Part 1, publisher alone: FEEDS feeds of ENTRIES entries each on a loopback HTTP server (its own process, with
ETags), added to a fresh SQLite store; one real `publisher scheduler` process polls them. Measured: the first
cycle (every entry seeded), an all-unchanged cycle (every feed answers 304), a cycle with one new entry per feed
(until all FEEDS announcements are accepted as posts), and the scheduler's peak RSS (VmHWM from /proc). Beside
each cycle's wall time: the CPU seconds the scheduler and the feed server used meanwhile (/proc/PID/stat) and the
load average, and once the scheduler's CPU per second with nothing due (its tick loop, in every cycle's figure).

Part 2, side by side: COMPARE feeds announced to the sandbox's Mastodon by feed2toot (/usr/bin/feed2toot, one run
over a uri_list, its cache populated first with -p) and by publisher (`publisher run`: scheduler + worker, seeded
first): one new entry per feed, timed until all are on the sandbox. Then every feed is re-served reordered (oldest
first) with every title edited, run again, and the posts each tool added are counted (duplicates).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from pinned import pin

ROOT = Path(__file__).resolve().parents[1]


def feed_xml(i: int, gen: int, entries: int) -> bytes:
    """Feed ``i`` at generation ``gen``: gen 0 has entries 1..N; gen 1 adds entry N+1 (newest first, N kept);
    gen 2 is gen 1 reordered oldest first with every title edited (a theme change, an edit of every post)."""
    top = entries + (1 if gen >= 1 else 0)
    nums = list(range(top, top - entries, -1))
    if gen == 2:
        nums.reverse()
    items = []
    for n in nums:
        day = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n)
        title = f"Feed {i} post {n}" + (" (updated)" if gen == 2 else "")
        items.append(f"<item><title>{title}</title><link>https://blog{i}.example.org/{n}/</link>"
                     f"<guid isPermaLink=\"false\">https://blog{i}.example.org/?p={n}</guid>"
                     f"<pubDate>{day.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
                     f"<description>Summary of post {n} of blog {i}, a sentence or two long.</description>"
                     "<category>news</category></item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Blog {i}</title>'
            f"<link>https://blog{i}.example.org/</link>{''.join(items)}</channel></rss>").encode()


def serve(port_q: Any, gen_value: Any, entries: int) -> None:
    cache: dict[tuple[int, int], tuple[bytes, str]] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            i = int(self.path.strip("/f") or 0)
            key = (i, gen_value.value)
            if key not in cache:
                body = feed_xml(i, key[1], entries)
                cache[key] = (body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"')
            body, etag = cache[key]
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 512
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_q.put(server.server_address[1])
    server.serve_forever()


class Bench:
    def __init__(self, home: Path, accounts: dict[str, Any], extra_env: dict[str, str] | None = None) -> None:
        from publisher import settings as settings_mod

        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.env = pin({k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")})
        self.env.update({"PUBLISHER_HOME": str(home), "PUBLISHER_LOG_LEVEL": "WARNING", **(extra_env or {})})
        config = {"accounts": accounts, "scheduler": {"tick_seconds": 0.1},
                  "delegators": [settings_mod.os_user(self.env)]}
        (home / "config.yaml").write_text(yaml.safe_dump(config))
        self.settings = settings_mod.load(self.env)
        from publisher.store import Store

        self.store = Store(self.settings.database_url)

    def add_feeds(self, base: str, n: int, account: str) -> None:
        from publisher.workflows import feeds as wf

        for i in range(n):
            wf.add(self.settings, self.store, wf.FeedSpec(name=f"f{i}", url=f"{base}/f{i}", accounts=[account],
                                                          template="New: {{ title }} {{ link }} {{ tags | hashtags }}",
                                                          interval=3600, max_per_poll=5))

    def due_now(self) -> datetime:
        from publisher.schema import feeds
        from publisher.store import utcnow

        now = utcnow()
        with self.store.tx() as conn:
            conn.execute(feeds.update().values(next_poll=now))
        return now

    def count(self, sql: str, **params: Any) -> int:
        from sqlalchemy import text

        with self.store.read() as conn:
            return int(conn.execute(text(sql), params).scalar() or 0)

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.home / f"{args[0]}.log", "ab")  # noqa: SIM115 - closed with the process
        return subprocess.Popen([sys.executable, "-m", "publisher.cli", *args], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait(pred: Any, timeout: float, what: str, sample: Any = None) -> float:
    t0 = time.monotonic()
    while not pred():
        if sample:
            sample()
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - t0


def hwm(pid: int) -> int:
    """Peak resident set size of ``pid`` in MiB (VmHWM), 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def cpu(pid: int) -> float:
    """CPU seconds (user + system) ``pid`` has used so far, 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(out: dict[str, Any], name: str, pids: dict[str, int], run: Any) -> None:
    """``out[name]``: wall seconds of ``run()``; beside it the CPU seconds each of ``pids`` used meanwhile and the
    load average at the end (the machine is shared: wall time alone says little)."""
    before = {k: cpu(p) for k, p in pids.items()}
    out[name] = round(run(), 2)
    out[name + "_cpu_s"] = {k: round(cpu(p) - before[k], 2) for k, p in pids.items()}
    out[name + "_load"] = [round(x, 1) for x in os.getloadavg()]


def stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def part1(base: str, gen: Any, n: int, work: Path, server_pid: int) -> dict[str, Any]:
    b = Bench(work / "p1", {"andrew": {"channel": "dryrun", "kind": "personal"}})
    t = time.monotonic()
    b.add_feeds(base, n, "andrew")
    out: dict[str, Any] = {"feeds": n, "add_s": round(time.monotonic() - t, 1)}
    sched = b.spawn("scheduler")
    peak = [0]

    def sample() -> None:
        peak[0] = max(peak[0], hwm(sched.pid))

    pids = {"scheduler": sched.pid, "feed_server": server_pid}

    def cycle(what: str) -> float:
        since = b.due_now().replace(tzinfo=None)
        return wait(lambda: b.count("SELECT count(*) FROM feeds WHERE last_success >= :t", t=since) == n, 600, what,
                    sample)

    try:
        timed(out, "seed_cycle_s", pids, lambda: cycle("seed cycle"))
        out["seeded_entries"] = b.count("SELECT count(*) FROM feed_entries")
        # the scheduler's CPU with no feed due (its tick loop, heartbeats): part of every cycle's CPU figure
        idle = cpu(sched.pid)
        time.sleep(10)
        out["scheduler_idle_cpu_s_per_s"] = round((cpu(sched.pid) - idle) / 10, 3)
        timed(out, "all_304_cycle_s", pids, lambda: cycle("304 cycle"))
        gen.value = 1

        def announce() -> float:
            b.due_now()
            return wait(lambda: b.count("SELECT count(*) FROM posts") == n, 600, "announcements", sample)

        timed(out, "one_new_each_accepted_s", pids, announce)
        sample()
        out["scheduler_peak_rss_mib"] = peak[0]
    finally:
        stop(sched)
    out["duplicate_posts"] = b.count("SELECT count(*) - count(DISTINCT idem_key) FROM posts")
    return out


def part2(base: str, gen: Any, n: int, work: Path) -> dict[str, Any]:
    from publisher.sandbox.server import SandboxServer

    out: dict[str, Any] = {"feeds": n}
    feed2toot = shutil.which("feed2toot")
    sandbox = SandboxServer("127.0.0.1", 0).start()
    masto = sandbox.base_url("mastodon")
    try:
        if feed2toot:
            gen.value = 0
            d = work / "f2t"
            d.mkdir(parents=True, exist_ok=True)
            (d / "feeds.txt").write_text("".join(f"{base}/f{i}\n" for i in range(n)))
            # feed2toot's default cache (the last 100 ids, all feeds together) on 3 feeds: enough to show it
            (d / "feeds3.txt").write_text("".join(f"{base}/f{i}\n" for i in range(3)))
            for limit, name, uris in ((1_000_000, "feed2toot", "feeds.txt"), (100, "feed2toot_default_cache", "feeds3.txt")):
                (d / f"{name}.ini").write_text(
                    f"[mastodon]\ninstance_url={masto}\nuser_credentials={d}/token.txt\nclient_credentials={d}/client.txt\n"
                    f"toot_visibility=public\n[cache]\ncachefile={d}/{name}.cache\ncache_limit={limit}\n"
                    f"[lock]\nlock_file={d}/{name}.lock\nlock_timeout=3600\n[rss]\nuri_list={d}/{uris}\n"
                    "toot={title} {link}\n[hashtaglist]\n[feedparser]\naccept_bozo_exceptions=true\n")
            (d / "token.txt").write_text("feed2toot-token\n")
            (d / "client.txt").write_text("client-id\nclient-secret\n")
            results = {}
            for name in ("feed2toot", "feed2toot_default_cache"):
                gen.value = 0
                r = subprocess.run([feed2toot, "-c", str(d / f"{name}.ini"), "-p", "-l", "100"], capture_output=True,
                                   text=True, timeout=1800)
                before = len(sandbox.sandbox.posts("mastodon"))
                gen.value = 1
                t = time.monotonic()
                r = subprocess.run([feed2toot, "-c", str(d / f"{name}.ini"), "-l", "100"], capture_output=True,
                                   text=True, timeout=1800)
                took = time.monotonic() - t
                new = len(sandbox.sandbox.posts("mastodon")) - before
                gen.value = 2
                r = subprocess.run([feed2toot, "-c", str(d / f"{name}.ini"), "-l", "100"], capture_output=True,
                                   text=True, timeout=1800)
                again = len(sandbox.sandbox.posts("mastodon")) - before - new
                results[name] = {"new_entry_run_s": round(took, 2), "posted": new,
                                 "per_announcement_ms": round(took * 1000 / max(new, 1), 1),
                                 "posted_again_after_reorder_and_edit": again, "exit": r.returncode,
                                 "stderr_tail": r.stderr[-300:]}
            out.update(results)
        else:
            out["feed2toot"] = "not installed (/usr/bin/feed2toot missing): not measured"
        gen.value = 0
        start = len(sandbox.sandbox.posts("mastodon"))
        b = Bench(work / "p2", {"masto": {"channel": "mastodon", "kind": "personal", "base_url": masto,
                                          "credentials": {"access_token": "env:BENCH_MASTO"}}},
                  {"BENCH_MASTO": "publisher-token"})
        b.add_feeds(base, n, "masto")
        from publisher.workflows import feeds as wf

        wf.poll_due(b.settings, b.store, "seed", limit=n)  # the first poll seeds, as feed2toot -p does
        run = b.spawn("run", "--threads", "8")
        try:
            time.sleep(3)  # broker and worker up before the clock starts (feed2toot has no start-up to wait for)
            gen.value = 1
            b.due_now()
            t = time.monotonic()
            wait(lambda: len(sandbox.sandbox.posts("mastodon")) - start >= n, 600, "publisher's posts on Mastodon")
            took = time.monotonic() - t
            gen.value = 2
            b.due_now()
            wait(lambda: b.count("SELECT count(*) FROM feeds WHERE last_success IS NOT NULL AND etag IS NOT NULL "
                                 "AND next_poll > :t", t=(datetime.now(UTC) + timedelta(seconds=60)).replace(tzinfo=None)) == n,
                 600, "the reordered, edited cycle")
            time.sleep(3)
            again = len(sandbox.sandbox.posts("mastodon")) - start - n
        finally:
            stop(run)
        out["publisher"] = {"new_entry_cycle_to_published_s": round(took, 2), "posted": n,
                            "per_announcement_ms": round(took * 1000 / n, 1),
                            "posted_again_after_reorder_and_edit": again}
    finally:
        sandbox.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--compare", type=int, default=100, help="feeds in the side-by-side with feed2toot (0: skip)")
    ap.add_argument("--skip-part1", action="store_true")
    args = ap.parse_args()
    gen = multiprocessing.Value("i", 0)
    q: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(q, gen, args.entries), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{q.get(timeout=10)}"
    work = Path(tempfile.mkdtemp(prefix="publisher-feeds-bench-"))
    report: dict[str, Any] = {"cpus": os.cpu_count(), "load": os.getloadavg()}
    try:
        if not args.skip_part1:
            gen.value = 0
            report["part1"] = part1(base, gen, args.feeds, work, server.pid or 0)
            print(json.dumps(report, indent=2), flush=True)
        if args.compare:
            report["part2"] = part2(base, gen, args.compare, work)
    finally:
        server.terminate()
        from publisher.workers import embedded

        for home in (work / "p1", work / "p2"):
            if home.exists():
                embedded.stop(home / "valkey")
        shutil.rmtree(work, ignore_errors=True)
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
