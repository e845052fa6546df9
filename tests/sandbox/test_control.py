"""The sandbox control API: answer counters, so benchmarks and tests can tell how many 429s the platform sent."""

from __future__ import annotations

import requests

from publisher.sandbox.server import SandboxServer

TOKEN = {"Authorization": "Bearer sandbox-counter-token"}


def _stats(sandbox: SandboxServer) -> dict[str, int]:
    return requests.get(sandbox.url + "/_sandbox/stats", timeout=5).json()  # type: ignore[no-any-return]


def test_stats_count_every_429_whatever_produced_it_and_reset_clears_them(sandbox: SandboxServer) -> None:
    control = sandbox.url + "/_sandbox/faults"
    assert requests.post(control, json={"platform": "x", "rate_limit": 2, "rate_window_seconds": 60}, timeout=5).ok
    tweets = sandbox.base_url("x") + "/2/tweets"
    codes = [requests.post(tweets, json={"text": f"counted {i}"}, headers=TOKEN, timeout=5).status_code for i in range(4)]
    assert codes == [201, 201, 429, 429]
    assert requests.post(control, json={"platform": "mastodon", "burst_429": 1}, timeout=5).ok
    masto = requests.post(sandbox.base_url("mastodon") + "/api/v1/statuses", data={"status": "hi"}, headers=TOKEN,
                          timeout=5)
    assert masto.status_code == 429
    stats = _stats(sandbox)
    assert stats["429"] == 3 and stats["x:429"] == 2 and stats["x:201"] == 2 and stats["mastodon:429"] == 1
    assert stats["requests"] >= 5
    assert requests.post(sandbox.url + "/_sandbox/reset", timeout=5).ok
    assert _stats(sandbox)["429"] == 0
