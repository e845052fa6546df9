"""Import of a large campaign: validate, tone-check and commit N rows (default 10,000) into a fresh SQLite store.

    python benchmarks/campaigns.py [--rows 10000] [--accounts 10] [--per-row 1] [--lang en] [--full-models]

``--full-models``: every text the function words leave open goes to lingua's full models, as the texts of a file
the low-accuracy mode cannot place would (it places these in their accounts' language, so they never load).

Prints rows/s and posts/s for the import (read + check + one-transaction commit), the time of a dry run to its full
report (everything but the commit), and the peak RSS of the process. Results: benchmarks/RESULTS-campaigns.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import yaml

CHANNELS = ("x", "mastodon", "bluesky", "linkedin", "facebook")
TEXTS = ("Day {d}: the keynote on network resilience starts at {h}:00 in hall A. #TNC27",
         "Session {i}: measuring latency across Europe, with live notes from the room. #TNC27",
         "Thank you to speaker {i} for a great talk on open research infrastructure! #TNC27",
         "Reminder: the poster session opens at {h}:30, coffee is served in the foyer. #TNC27")


def cpu() -> float:
    """CPU seconds of this process and of its finished child processes (the forked checkers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--accounts", type=int, default=10)
    ap.add_argument("--per-row", type=int, default=1, help="accounts per row")
    ap.add_argument("--lang", help="declare the rows' language in the header (defaults: {lang: ...})")
    ap.add_argument("--full-models", action="store_true",
                    help="never let lingua's low-accuracy mode settle a text (the full models load, as for doubtful texts)")
    args = ap.parse_args()
    if args.full_models:
        from publisher.rules import language

        language.ROUGH_SURE = 2.0  # no confidence reaches it
    root = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    accounts = {f"acc{i}": {"channel": "dryrun", "kind": "organisation",
                            "timezone": ("Europe/Oslo", "America/New_York")[i % 2]} for i in range(args.accounts)}
    (root / "config.yaml").write_text(yaml.safe_dump({"accounts": accounts}))
    lines = ["# name: bench", "# anchors: {event: '2031-06-08T09:00+02:00'}", "# hashtags: [TNC27]",
             *([f"# defaults: {{lang: {args.lang}}}"] if args.lang else []), "key,at,accounts,text"]
    names = list(accounts)
    for i in range(args.rows):
        acc = " ".join(names[(i + j) % len(names)] for j in range(args.per_row))
        text = TEXTS[i % len(TEXTS)].format(d=i % 5 + 1, h=9 + i % 8, i=i)
        lines.append(f"r{i},event-{i % 60}d {9 + i % 10:02d}:{i % 60:02d},{acc},\"{text}\"")
    path = root / "bench.csv"
    path.write_text("\n".join(lines) + "\n")

    from publisher import settings as settings_mod
    from publisher.store import Store
    from publisher.workflows import campaignfile, campaigns

    env = {"PUBLISHER_HOME": str(root / "home"), "PUBLISHER_CONFIG": str(root / "config.yaml")}
    settings = settings_mod.load(env)
    store = Store(settings.database_url)
    c0, t0 = cpu(), time.perf_counter()
    plan = campaigns.plan(settings, store, campaignfile.read(path))
    c1, t1 = cpu(), time.perf_counter()
    report = campaigns.apply(settings, store, plan)
    c2, t2 = cpu(), time.perf_counter()
    again = campaigns.plan(settings, store, campaignfile.read(path))
    c3, t3 = cpu(), time.perf_counter()
    assert report.counts["new"] == args.rows and not again.changes
    posts = args.rows
    deliveries = args.rows * args.per_row
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"rows={args.rows} accounts={args.accounts} per_row={args.per_row} lang={args.lang} "
          f"python={sys.version.split()[0]} full models={args.full_models} lingua loaded={'lingua' in sys.modules}")
    print("                                     wall       CPU (this process + its workers)")
    print(f"dry run (read + check, full report): {t1 - t0:6.2f} s   {c1 - c0:6.2f} s")
    print(f"commit (one transaction):            {t2 - t1:6.2f} s   {c2 - c1:6.2f} s")
    print(f"import total:                        {t2 - t0:6.2f} s   {c2 - c0:6.2f} s   = {posts / (t2 - t0):,.0f} posts/s "
          f"wall ({deliveries / (t2 - t0):,.0f} deliveries/s), {posts / (c2 - c0):,.0f} posts per CPU second")
    print(f"re-import, unchanged (no write):     {t3 - t2:6.2f} s   {c3 - c2:6.2f} s")
    print(f"peak RSS:                            {rss:.0f} MiB (largest child process: {kids_rss:.0f} MiB)")
    print(f"load average after the run:          {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
