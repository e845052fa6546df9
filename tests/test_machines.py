"""Two "machines", simulated honestly: each a scheduler and a worker pool, started as process groups of their own,
with their own PUBLISHER_HOME and configuration file, sharing only PostgreSQL, the broker (Redis) and the platform
(the dry-run ledger, which stands in for the social network). One whole machine is SIGKILLed mid-burst; the other
finishes the work: nothing lost, nothing published twice, threads in order, the audit log intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from publisher import service
from tests.conftest import Env, wait_for
from tests.helpers import check_invariants, states

pytestmark = pytest.mark.slow

ACCOUNTS = [f"acct{i}" for i in range(8)]
# Each platform call answers after this long, so that 64 posts on 2 x 4 threads take seconds, not the tenth of a second
# the test needs to see 10 published: without it a fast worker finished the burst before machine A could be killed.
# A kill during the latency also leaves posts that exist remotely while their delivery is still `publishing`.
LATENCY_MS = 400


def _machine(env: Env, name: str, ledger: Path) -> dict[str, str]:
    """A machine's environment: its own home and configuration; the database and broker URLs are the shared ones."""
    home = env.home.parent / name
    home.mkdir()
    config = {**env.config, "accounts": {a: {"channel": "dryrun", "kind": "organisation", "timezone": "UTC",
                                             "options": {"ledger": str(ledger), "latency_ms": LATENCY_MS}}
                                for a in ACCOUNTS}}
    (home / "config.yaml").write_text(yaml.safe_dump(config))
    return {**env.env, "PUBLISHER_HOME": str(home)}


def _start(machine_env: dict[str, str], log: Path) -> list[subprocess.Popen[bytes]]:
    """A scheduler and a worker pool, each the leader of a new process group (as on a host of its own)."""
    out = open(log, "ab")  # noqa: SIM115 - closed when the test ends
    return [subprocess.Popen([sys.executable, "-m", "publisher.cli", *args], env=machine_env, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
            for args in (["scheduler"], ["worker", "-p", "1", "-t", "4"])]


def test_one_of_two_machines_killed_mid_burst_the_other_finishes_nothing_lost_or_doubled(env: Env) -> None:
    if "PUBLISHER_DATABASE_URL" not in env.env or "PUBLISHER_REDIS_URL" not in env.env:
        pytest.skip("needs PUBLISHER_TEST_DATABASE_URL and PUBLISHER_TEST_REDIS_URL: a SQLite file and an embedded "
                    "broker cannot be shared by two machines")
    ledger = env.home.parent / "platform-ledger.jsonl"
    a, b = _machine(env, "machine-a", ledger), _machine(env, "machine-b", ledger)
    env.env = a  # the test's own store and settings: machine A's view (the same database)
    settings, store = env.settings(), env.store()
    due = datetime.now(UTC) + timedelta(seconds=6)
    for i in range(60):  # 60 posts to 8 accounts at the same second, and a thread of 4 on one account
        service.accept(settings, store, service.NewPost(text=f"burst {i}", accounts=[ACCOUNTS[i % 8]], at=due))
    for i in range(4):
        service.accept(settings, store, service.NewPost(text=f"thread {i}", accounts=["acct0"], at=due,
                                                        thread_key="incident-1"))
    total = 64
    machines = {"a": _start(a, env.home.parent / "machine-a.log"), "b": _start(b, env.home.parent / "machine-b.log")}
    try:
        def published() -> int:
            return states(store).get("published", 0)

        wait_for(lambda: published() >= 10, timeout=120, what="the burst to start on both machines")
        for p in machines["a"]:  # the whole of machine A, mid-burst
            os.killpg(p.pid, signal.SIGKILL)
        for p in machines["a"]:
            p.wait()
        assert published() < total, "machine A was killed after the burst had finished: nothing was tested"
        wait_for(lambda: published() == total, timeout=240, every=0.5,
                 what=f"machine B to publish all {total} (states: {dict(states(store))})")
    finally:
        for procs in machines.values():
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
    result = check_invariants(store, ledger)  # no duplicate, nothing lost, thread order, audit chain
    assert len(result["ledger"]) == total
    assert states(store) == {"published": total}
