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
