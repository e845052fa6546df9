"""A worker process builds at boot what its first message would otherwise build when it falls due: the store, a
pooled connection per worker thread, the adapter modules of the configured channels (``runtime.warm``). Each case
runs in a fresh process, so nothing this test process imported or opened counts."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import Env

WARM = """
import json, sys
from publisher.workers import broker, runtime
before = "publisher.channels.dryrun" in sys.modules
runtime.warm(int(sys.argv[1]))
pool = runtime.store().engine.pool
print(json.dumps({"before": before, "after": "publisher.channels.dryrun" in sys.modules,
                  "open": pool.checkedin(), "out": pool.checkedout()}))
handle = broker.current()
if handle is not None:
    handle.broker.close()
"""


def _warm(env: Env, threads: int, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WARM, str(threads)], env={**env.env, **extra}, capture_output=True,
                          text=True, timeout=120)


def test_warm_up_opens_a_pooled_connection_per_thread_and_imports_the_adapters(env: Env) -> None:
    r = _warm(env, 4)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got == {"before": False, "after": True, "open": 4, "out": 0}, got


def test_warm_up_of_an_unreachable_database_logs_its_type_and_leaves_the_boot_alone(env: Env) -> None:
    canary = "warm-canary-5f1d"
    url = f"postgresql://publisher:{canary}@127.0.0.1:1/nowhere"
    r = subprocess.run([sys.executable, "-c", "from publisher.workers import runtime; runtime.warm(4); print('booted')"],
                       env={**env.env, "PUBLISHER_DATABASE_URL": url}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "booted"
    assert "worker warm-up skipped:" in r.stderr
    assert canary not in r.stdout + r.stderr
