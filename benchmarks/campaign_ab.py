"""Same-process A/B of the two ways an import uses both cores, alternating, on the 10,000-row file of campaigns.py.

    python benchmarks/campaign_ab.py commit    # apply(): rows built one by one here vs in forked workers
    python benchmarks/campaign_ab.py check     # plan(): forked checkers with and without gc.freeze() first

Alternating A and B in one process is the only fair comparison on a machine whose speed drifts by 1.6x over a day
(RESULTS-scale.md). Results: benchmarks/RESULTS-campaigns.md.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from campaigns import TEXTS  # noqa: E402  (benchmarks/campaigns.py, beside this file)


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "commit"
    from publisher import settings as settings_mod
    from publisher.rules import language
    from publisher.store import Store
    from publisher.workflows import campaignfile, campaignrows, campaigns

    root = Path(tempfile.mkdtemp(prefix="campaign-ab-"))
    accounts = {f"acc{i}": {"channel": "dryrun", "kind": "organisation",
                            "timezone": ("Europe/Oslo", "America/New_York")[i % 2]} for i in range(10)}
    (root / "config.yaml").write_text(yaml.safe_dump({"accounts": accounts}))
    lines = ["# name: bench", "# anchors: {event: '2031-06-08T09:00+02:00'}", "# hashtags: [TNC27]",
             "key,at,accounts,text"]
    names = list(accounts)
    for i in range(10_000):
        text = TEXTS[i % len(TEXTS)].format(d=i % 5 + 1, h=9 + i % 8, i=i)
        lines.append(f"r{i},event-{i % 60}d {9 + i % 10:02d}:{i % 60:02d},{names[i % 10]},\"{text}\"")
    path = root / "bench.csv"
    path.write_text("\n".join(lines) + "\n")
    freeze = gc.freeze
    modes = ("one by one", "forked") if what == "commit" else ("no freeze", "gc.freeze")
    times: dict[str, list[float]] = {m: [] for m in modes}
    for k in range(8):
        mode = modes[k % 2]
        home = root / f"home{k}"
        settings = settings_mod.load({"PUBLISHER_HOME": str(home), "PUBLISHER_CONFIG": str(root / "config.yaml")})
        store = Store(settings.database_url)
        if what == "commit":
            campaignrows.PARALLEL_FROM = 10**9 if mode == "one by one" else 1000
            plan = campaigns.plan(settings, store, campaignfile.read(path))
            t = time.perf_counter()
            campaigns.apply(settings, store, plan)
        else:
            gc.freeze = freeze if mode == "gc.freeze" else (lambda: None)  # type: ignore[assignment]
            language.confidences.cache_clear()
            t = time.perf_counter()
            campaigns.plan(settings, store, campaignfile.read(path))
        times[mode].append(time.perf_counter() - t)
        print(f"{mode:11s} {times[mode][-1]:.2f} s", flush=True)
    gc.freeze = freeze  # type: ignore[assignment]
    for mode, ts in times.items():
        print(f"{mode:11s} median {sorted(ts)[len(ts) // 2]:.2f} s  ({', '.join(f'{t:.2f}' for t in ts)})")


if __name__ == "__main__":
    main()
