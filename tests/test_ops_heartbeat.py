"""Heartbeat records (what `health` reads) and the scheduler check that tells a stuck loop from a live one."""

from __future__ import annotations

import os
import socket
import time

from publisher.ops import health, heartbeat, redisconn
from tests.conftest import Env, wait_for


def test_a_heartbeat_names_its_process_expires_and_a_stuck_scheduler_shows(env: Env) -> None:
    settings = env.settings()
    url = redisconn.url(settings)
    assert url is not None
    client = redisconn.client(url)
    worker = heartbeat.Heartbeat(url, "worker", ["x", "dryrun"], every=0.2)
    worker.beat()
    (beat,) = heartbeat.alive(client)
    assert beat["role"] == "worker" and beat["queues"] == ["dryrun", "x"]
    assert beat["host"] == socket.gethostname() and beat["pid"] == os.getpid() and beat["started"] and beat["beat"]
    wait_for(lambda: not heartbeat.alive(client), timeout=30, every=0.05, what="the key to expire (3 beats)")
    stuck = heartbeat.Heartbeat(url, "scheduler", [], every=0.2, progress=lambda: time.time() - 3600)
    stuck.beat()
    checks = {c.name: c for c in health.check_processes(settings, client, None)}
    assert not checks["scheduler"].ok and "stuck" in checks["scheduler"].reason
    going = heartbeat.Heartbeat(url, "scheduler", [], every=0.2, progress=time.time).start()  # the same key
    try:
        def scheduler_ok() -> bool:
            return {c.name: c for c in health.check_processes(settings, client, None)}["scheduler"].ok

        wait_for(scheduler_ok, timeout=30, every=0.05, what="the live scheduler's beat")
        checks = {c.name: c for c in health.check_processes(settings, client, None, local="scheduler")}
        assert checks["local"].ok
        assert not checks["workers"].ok  # dryrun has an account and no live worker
    finally:
        going.stop()
    assert going.key.encode() not in set(client.scan_iter(match=f"{heartbeat.PREFIX}*"))  # a clean stop: gone at once
    client.close()


def test_a_worker_consumes_the_queues_of_the_configured_channels_unless_told_which(env: Env) -> None:
    """Dramatiq polls every queue it consumes (and its delay queue) ten times a second when idle, so a worker
    consumes by default only the queues of the channels the configuration's accounts use; ``--queues`` still
    names any. Read from the live workers' heartbeats, which name the queues Dramatiq was given."""
    from publisher.workers.broker import QUEUES

    settings = env.settings()
    url = redisconn.url(settings)
    assert url is not None
    client = redisconn.client(url)
    configured = [q for q in QUEUES if q in {a.channel for a in settings.accounts.values()}]
    assert configured and len(configured) < len(QUEUES)  # the test needs a channel that no account uses
    try:
        for args, expected in ((), sorted(configured)), (("--queues", "x", "--queues", "dryrun"), ["dryrun", "x"]):
            proc = env.spawn("worker", "-p", "1", "-t", "1", *args, log="worker")

            def beats() -> list[list[str]]:
                return [b["queues"] for b in heartbeat.alive(client)
                        if b.get("role") == "worker" and b.get("pid") != os.getpid()]

            wait_for(lambda: bool(beats()), timeout=60, what="the worker's heartbeat")
            assert beats() == [expected]
            os.killpg(proc.pid, 15)
            proc.wait(timeout=60)
            wait_for(lambda: not beats(), timeout=30, what="the stopped worker's heartbeat to go")
    finally:
        client.close()
