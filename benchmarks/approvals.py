"""How long `approve` takes for many posts in one call (what `campaign approve NAME` does with a campaign's ids).

Usage: python benchmarks/approvals.py [N]   (default 1000 posts, each to an approval account and a free one)
Prints the seconds to store the posts and to approve them all in one call, and the rate.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from publisher import service
from publisher import settings as settings_mod
from publisher.store import Store
from publisher.workflows import approvals


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        accounts = {"comms": {"channel": "dryrun", "kind": "organisation", "approvers": ["ola"]},
                    "events": {"channel": "dryrun", "kind": "organisation"}}
        (home / "config.yaml").write_text(yaml.safe_dump({"accounts": accounts}))
        base = settings_mod.load({"PUBLISHER_HOME": str(home)})
        author = dataclasses.replace(base, actor="kari")
        approver = dataclasses.replace(base, actor="ola")
        store = Store(base.database_url)
        at = datetime.now(UTC) + timedelta(days=1)
        t0 = time.perf_counter()
        ids = [service.accept(author, store, service.NewPost(text=f"Session {i} starts in room {i % 9}",
                                                             accounts=["comms", "events"], at=at)).post_id
               for i in range(n)]
        t1 = time.perf_counter()
        out = approvals.approve(approver, store, ids)
        t2 = time.perf_counter()
        assert len(out.moved) == 2 * n, len(out.moved)
        print(f"stored {n} posts in {t1 - t0:.2f} s; approved {n} posts ({2 * n} deliveries) in one call in "
              f"{t2 - t1:.2f} s = {n / (t2 - t1):.0f} posts/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
