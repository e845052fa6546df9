"""CPU of the feed poll cycles, in-process (benchmarks/RESULTS-feeds.md): a cleaner A/B than benchmarks/feeds.py
on a shared machine, since it counts only this process's CPU for the cycle itself (no scheduler tick loop).

    PYTHONPATH=$PWD python benchmarks/feeds_cpu.py [--feeds 1000] [--profile]

The same loopback server as benchmarks/feeds.py (its own process) serves FEEDS feeds of 50 entries. The feeds and
their 50 seen entries each are written straight into a fresh SQLite store (with the server's ETags), so no seed
cycle is needed. Then ``poll_due`` is called until nothing is due (8 fetch threads, batches of 200), as the
scheduler's feed thread does: once with every feed answering 304, once with one new entry per feed. Printed per
cycle: wall seconds, this process's CPU seconds (``time.process_time``, every thread), the load average.
``--profile``: the same with one fetch thread under cProfile (CPU timer), the top functions printed.

To compare with an older version: extract it (``git archive REV publisher | tar -x -C DIR``) and run this script
with ``PYTHONPATH=DIR``.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import multiprocessing
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import feeds as bench  # noqa: E402 - the sibling benchmark's server and store helpers


def seed(b: Any, base: str, n: int) -> None:
    from publisher.schema import feed_entries, feeds
    from publisher.store import utcnow
    from publisher.workflows import feeds as wf

    now = utcnow()
    rows, entries = [], []
    for i in range(n):
        spec = wf.FeedSpec(name=f"f{i}", url=f"{base}/f{i}", accounts=["andrew"],
                           template="New: {{ title }} {{ link }} {{ tags | hashtags }}", interval=3600, max_per_poll=5)
        row = wf._row(spec, "cli", now)
        row.update(backfill=None, etag='"' + hashlib.sha256(bench.feed_xml(i, 0, 50)).hexdigest()[:16] + '"')
        rows.append(row)
        for k in range(1, 51):
            ident = f"https://blog{i}.example.org/?p={k}"
            entries.append(dict(feed=f"f{i}", entry_key=hashlib.sha256(ident.encode()).hexdigest(), identity=ident,
                                title=f"Feed {i} post {k}", link=f"https://blog{i}.example.org/{k}/", published=None,
                                first_seen=now, status="seeded", post_id=None))
    with b.store.tx() as conn:
        conn.execute(feeds.insert(), rows)
        conn.execute(feed_entries.insert(), entries)


def cycle(b: Any, label: str, profile: bool) -> None:
    from publisher.workflows import feeds as wf

    b.due_now()
    prof = cProfile.Profile(time.process_time) if profile else None
    t0, c0 = time.monotonic(), time.process_time()
    if prof:
        prof.enable()
    polled = 0
    while results := wf.poll_due(b.settings, b.store, "bench", limit=200, threads=1 if profile else 8):
        polled += len(results)
    if prof:
        prof.disable()
    wall, used = time.monotonic() - t0, time.process_time() - c0
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{label}: {polled} feeds polled, wall {wall:.2f} s, CPU {used:.2f} s, load {load}", flush=True)
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats("publisher|feedparser/api|requests/sessions", 40)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    gen = multiprocessing.Value("i", 0)
    q: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=bench.serve, args=(q, gen, 50), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{q.get(timeout=10)}"
    work = Path(tempfile.mkdtemp(prefix="publisher-feeds-cpu-"))
    try:
        b = bench.Bench(work / "home", {"andrew": {"channel": "dryrun", "kind": "personal"}})
        seed(b, base, args.feeds)
        cycle(b, "all unchanged (304)", args.profile)
        gen.value = 1
        cycle(b, "one new entry per feed", args.profile)
        print("posts:", b.count("SELECT count(*) FROM posts"), "distinct keys:",
              b.count("SELECT count(DISTINCT idem_key) FROM posts"))
    finally:
        server.terminate()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
