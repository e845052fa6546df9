"""`publisher health` tells the truth: green with a real worker pool and scheduler running, red when the worker
pool is killed (its heartbeats expire), when Redis does not answer, and when a due delivery is late."""

from __future__ import annotations

import json
import os
import signal
import socket

import pytest

from tests.conftest import Env, wait_for

BEAT = "0.3"  # seconds between heartbeats: keys live 0.9 s, so a killed worker drops out quickly


def _health(env: Env, *args: str) -> tuple[int, dict[str, dict[str, object]]]:
    r = env.cli("health", "--json", *args, timeout=60)
    assert r.returncode in (0, 1), r.stderr
    data = json.loads(r.stdout)
    assert data["healthy"] is (r.returncode == 0)
    return r.returncode, {c["name"]: c for c in data["checks"]}


@pytest.mark.slow
def test_health_is_green_with_a_worker_and_scheduler_and_red_once_the_worker_pool_dies(env: Env) -> None:
    env.env["PUBLISHER_HEARTBEAT_SECONDS"] = BEAT
    worker = env.spawn("worker", "--processes", "1", "--threads", "2", log="worker")
    env.spawn("scheduler", log="scheduler")
    wait_for(lambda: _health(env)[0] == 0, timeout=120, every=0.5, what="health to go green")
    code, checks = _health(env)
    assert checks["workers"]["ok"] and "dryrun (1)" in str(checks["workers"]["reason"])
    assert checks["scheduler"]["ok"] and checks["broker"]["ok"] and checks["store"]["ok"]
    assert _health(env, "--local", "worker")[1]["local"]["ok"]  # a container's own check: its pool, on its host
    r = env.cli("post", "--account", "noc", "Planned maintenance tonight 22:00-23:00")
    assert r.returncode == 0, r.stderr
    os.killpg(worker.pid, signal.SIGKILL)  # no clean shutdown: only the heartbeat's expiry can tell
    worker.wait()
    wait_for(lambda: not _health(env)[1]["workers"]["ok"], timeout=120, every=0.3, what="the dead worker to show")
    code, checks = _health(env)
    assert code == 1
    assert "no live worker consumes dryrun" in str(checks["workers"]["reason"])
    assert checks["scheduler"]["ok"]  # only what is broken is reported as broken
    assert not _health(env, "--local", "worker")[1]["local"]["ok"]
    assert _health(env, "--local", "scheduler")[1]["local"]["ok"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket is: nothing listens there


def test_health_and_broker_status_are_red_when_redis_does_not_answer(env: Env) -> None:
    env.env["PUBLISHER_REDIS_URL"] = f"redis://127.0.0.1:{_closed_port()}/0"
    code, checks = _health(env)
    assert code == 1
    assert not checks["broker"]["ok"] and "does not answer" in str(checks["broker"]["reason"])
    assert not checks["workers"]["ok"] and not checks["scheduler"]["ok"]
    r = env.cli("broker", "status")
    assert r.returncode == 1 and "FAIL" in r.stdout


@pytest.mark.slow
def test_health_is_red_when_a_due_delivery_is_late(env: Env) -> None:
    env.env["PUBLISHER_HEARTBEAT_SECONDS"] = BEAT
    env.spawn("worker", "--processes", "1", "--threads", "2", "--queues", "x", log="worker")  # not dryrun's queue
    env.spawn("scheduler", log="scheduler")
    r = env.cli("post", "--account", "noc", "Planned maintenance tonight 22:00-23:00")
    assert r.returncode == 0, r.stderr
    post_id = r.stdout.split()[1]
    wait_for(lambda: not _health(env, "--max-late", "1s")[1]["lateness"]["ok"], timeout=120, every=0.3,
             what="the delivery to be late")
    code, checks = _health(env, "--max-late", "1s")
    assert code == 1
    assert "1 delivery is more than 1 s late" in str(checks["lateness"]["reason"])
    assert "dryrun (due work waiting" in str(checks["workers"]["reason"]) or "dryrun" in str(checks["workers"]["reason"])
    assert _health(env, "--max-late", "1h")[1]["lateness"]["ok"]  # the threshold is the one given
    shown = env.cli("show", post_id)
    assert "queued" in shown.stdout or "scheduled" in shown.stdout


def test_health_rejects_a_bad_duration(env: Env) -> None:
    r = env.cli("health", "--max-late", "soon")
    assert r.returncode == 2 and "not a duration" in r.stderr
